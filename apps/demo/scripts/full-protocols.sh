#!/usr/bin/env bash
# The papers' full protocols as sweeps, one after another, at low priority (apps/demo/README.md,
# "The papers' full protocols as sweeps"). Run it again to resume: finished cells are skipped and an
# interrupted one resumes from its last finished task.
#   bash scripts/full-protocols.sh [out-dir]     (default /work/protocol-runs; from a built apps/demo)
# Run it from a copy of the checkout that nobody rebuilds while it runs (hours): the workers load
# dist/ as they start each cell.
set -uo pipefail
cd "$(dirname "$0")/.."
R=${1:-/work/protocol-runs}
mkdir -p "$R"
sweep() { # name, then sweep arguments
  local name=$1
  shift
  nice -n 10 node dist/cli.js sweep --preset "$name" --seeds 0,1,2 --workers 2 --no-progress --out "$R/$name" "$@" >> "$R/$name.log" 2>&1
  echo "$name exit $? $(date -u)" >> "$R/chain.log"
}
echo "start $(date -u)" >> "$R/chain.log"
sweep paper2-fc --lambda ewc-fis=41 --lambda ewc-mas=4.5 --lambda ewc-si=0.25 --lambda ewc-sig=0.1 --lambda sewc-fis=85 --lambda sewc-mas=8.5 --lambda sewc-si=0.64
sweep paper1
sweep paper4

#!/usr/bin/env bash
# System packages the test suite uses, installed from Debian's archive (idempotent; needs root).
#   dataset-fashion-mnist  full Fashion-MNIST (IDX .gz in /usr/share/datasets/fashion-mnist), for the
#                          full-data checks (tests skip them when it is absent)
#   chromium               headless browser for the demo page's end-to-end test (driven by playwright-core)
#   redis-server           the one service of the CLI's distributed sweeps (BullMQ); the sweep test
#                          starts its own on a free loopback port
#   clang lld              build @forgetless/core's WebAssembly SIMD depthwise kernels from their C source
#                          (npm run build:wasm -w @forgetless/core); a test rebuilds them and compares
#                          the bytes with the committed module
#   wabt                   wasm2wat, with which that build checks the kernels never touch a global (the C stack)
set -euo pipefail
want=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || want+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v redis-server >/dev/null 2>&1 || want+=(redis-server)
command -v clang >/dev/null 2>&1 || command -v clang-14 >/dev/null 2>&1 || want+=(clang)
command -v wasm-ld >/dev/null 2>&1 || want+=(lld)
command -v wasm2wat >/dev/null 2>&1 || want+=(wabt)
if [ ${#want[@]} -eq 0 ]; then
  echo "system deps: all present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system deps: missing ${want[*]} (not root or no apt-get); the tests that need them are skipped" >&2
  exit 0
fi
echo "system deps: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null

#!/usr/bin/env bash
# The PyTorch peer of the benchmark, from Debian's archive (idempotent; needs root and apt-get):
#   python3-torch         PyTorch (CPU) for /usr/bin/python3, with functorch
#   python3-torchvision   torchvision, for the mobilenet workload's mobilenet_v2
#   libopenblas0-pthread  an optimised BLAS for it: Debian's torch does its matmuls through the
#                         system's libblas.so.3, which is the slow reference BLAS unless another is
#                         installed (the peer reports which one it ran on)
# The benchmark skips the peer, with the reason, when torch is absent; no test needs it.
set -euo pipefail
want=()
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || want+=(python3-torch)
/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1 || want+=(python3-torchvision)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || want+=(libopenblas0-pthread)
if [ ${#want[@]} -eq 0 ]; then
  echo "benchmark peer: all present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "benchmark peer: missing ${want[*]} (not root or no apt-get); the peer is skipped or runs on what is there" >&2
  exit 0
fi
echo "benchmark peer: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null

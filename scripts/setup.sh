#!/usr/bin/env bash
# Installs what tpjit needs to build and test, then configures and builds it in build/.
# Safe to run again: it installs only what is missing and rebuilds only what changed.
# TPJIT_BUILD_DIR, TPJIT_BUILD_TYPE and TPJIT_SANITIZE (ON/OFF) change what is built where;
# scripts/sanitize.sh uses them so there is one package list and one configure line.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ libboost-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libgtest-dev python3)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cuda_home="${CUDA_HOME:-/usr/local/cuda}"
if [ ! -x "$cuda_home/bin/nvcc" ] || [ ! -f "$cuda_home/include/nvrtc.h" ]; then
  echo "setup: the CUDA 13 toolkit was not found at $cuda_home (set CUDA_HOME to where it is)." >&2
  exit 1
fi
export PATH="$cuda_home/bin:$PATH"

build_dir="${TPJIT_BUILD_DIR:-build}"
build_type="${TPJIT_BUILD_TYPE:-RelWithDebInfo}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  -DTPJIT_SANITIZE="${TPJIT_SANITIZE:-OFF}" -DCUDAToolkit_ROOT="$cuda_home" >/dev/null
cmake --build "$build_dir"

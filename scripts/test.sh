#!/usr/bin/env bash
# Sets up, builds and runs every test with ctest. GPU tests (label gpu) skip with the reason
# where there is no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"

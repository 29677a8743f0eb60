#!/bin/sh
# Runs one small GEMM case of the GPU suite under compute-sanitizer memcheck (out-of-bounds and
# misaligned accesses, leaks of device memory). Exit 77 (ctest: skipped) when the tool or the
# GPU is absent.
binary="$1"
filter="$2"
if ! command -v compute-sanitizer >/dev/null 2>&1; then
  echo "SKIP: compute-sanitizer is not on PATH"
  exit 77
fi
out=$("$binary" --gtest_filter="$filter" --gtest_brief=1 2>&1)
case "$out" in
  *"no CUDA device"*) echo "$out"; echo "SKIP: no CUDA device"; exit 77 ;;
esac
exec compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 \
  "$binary" --gtest_filter="$filter"

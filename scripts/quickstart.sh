#!/usr/bin/env bash
# The main job on the bundled recorded graphs: set up and build, start tpjitd on its defaults,
# compile every graph for sm_90a and sm_100a at two token counts, then compile them again to
# show the cache answering every kernel. On a machine with a GPU it then checks the generated
# GEMMs on the GPU and benchmarks one shape against cuBLASLt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

m_list="${TPJIT_M:-128,2048}"
bin=build/bin
graphs=$(ls tests/data/graphs/*.json | grep -v '\.expected\.json$')

"$bin/tpjitd" --log-level warn &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$bin/tpjit" hello >/dev/null 2>&1 && break; sleep 0.1; done

for pass in 1 2; do
  echo "=== pass $pass: compiling $(echo "$graphs" | wc -l) graphs at M=$m_list for sm_90a,sm_100a"
  for g in $graphs; do
    echo "--- $g"
    if [ "$pass" = 1 ]; then
      "$bin/tpjit" compile "$g" --m "$m_list" --arch sm_90a,sm_100a
    else
      "$bin/tpjit" compile "$g" --m "$m_list" --arch sm_90a,sm_100a | tail -n 1
    fi
  done
done
"$bin/tpjit" stats
"$bin/tpjit" shutdown
wait $daemon || true
trap - EXIT

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "=== GPU found: $(nvidia-smi -L | head -n 1)"
  echo "=== checking the generated GEMMs on the GPU (ctest -L gpu)"
  ctest --test-dir build -L gpu --output-on-failure
  echo "=== one benchmark shape against cuBLASLt"
  "$bin/tpjit-bench" gemm --shapes 4096x8192x5120
else
  echo "=== No GPU on this machine: compile-only. The plans and cubins above were generated and"
  echo "    cached for real (NVRTC needs no GPU); nothing was executed. Run this on a machine"
  echo "    with an H100 to also check and time the kernels."
fi

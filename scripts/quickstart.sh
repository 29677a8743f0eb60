#!/usr/bin/env bash
# The main job on the bundled recorded graphs: set up and build, start tpjitd on its defaults,
# compile every graph for sm_90a and sm_100a at two token counts, then compile them again to
# show the cache answering every kernel. Where there are GPUs it then executes: with two or
# more, the fused TP2 plans run on them (`tpjit run --check`); with one, the generated GEMMs
# are checked on it and one shape is timed against cuBLASLt. Without a GPU it says so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# NVLink multicast stays off wherever NCCL runs (it can take a shared host's GPUs down).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

m_list="${TPJIT_M:-128,2048}"
bin=build/bin
graphs=$(ls tests/data/graphs/*.json | grep -v '\.expected\.json$')
gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi

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

if [ "$gpus" -ge 2 ]; then
  echo "=== $gpus GPUs: executing the TP2 plans on GPUs 0 and 1 (each fused region fused or unfused,"
  echo "    as its plan chose for this M), checked against the unfused reference"
  for g in llama3-70b-attn-tp2 llama3-70b-mlp-tp2; do
    "$bin/tpjit" run "tests/data/graphs/$g.json" --m 4096 --check --iters 20
  done
fi
"$bin/tpjit" stats
"$bin/tpjit" shutdown
wait $daemon || true
trap - EXIT

if [ "$gpus" -eq 1 ]; then
  echo "=== one GPU: checking the generated GEMMs on it (ctest -L gpu), then one shape against cuBLASLt"
  ctest --test-dir build -L gpu --output-on-failure
  "$bin/tpjit-bench" gemm --shapes 4096x5120x8192
elif [ "$gpus" -eq 0 ]; then
  echo "=== No GPU on this machine: compile-only. The plans and cubins above were generated and"
  echo "    cached for real (NVRTC needs no GPU); nothing was executed. On a machine with two"
  echo "    H100s the same command also runs the fused plans (tpjit run --check)."
fi

#!/usr/bin/env bash
# Every CPU test (ctest -LE gpu) under AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer, for CI. Builds all targets in build-asan/ with TPJIT_SANITIZE=ON
# as Debug: with the sanitizers, -O0 compiled about 4x faster than RelWithDebInfo on the 2-core
# CI machine, and the tests spend their time in NVRTC (not instrumented), not in our code.
# From a clean clone it takes about 10 minutes there (build 9.5, tests under 1).
# Any finding fails the job: the sanitizers halt on the first one, and because a finding in a
# child process (tpjit-worker, which the supervisor tests fork) may only look like a crashed
# worker to a test that expects crashes, every test's output is also searched for sanitizer reports.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
TPJIT_BUILD_DIR=$build TPJIT_BUILD_TYPE=Debug TPJIT_SANITIZE=ON scripts/setup.sh

# LeakSanitizer stops the threads with ptrace; in a sandbox that forbids it every test fails
# loudly ("LeakSanitizer has encountered a fatal error"), never silently. It works here (checked).
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

status=0
# Passed tests keep their whole output in LastTest.log (ctest keeps only 1 KiB by default).
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -LE gpu \
  --test-output-size-passed 4000000 --test-output-size-failed 4000000 "$@" || status=$?

log="$build/Testing/Temporary/LastTest.log"
pattern='ERROR: (Address|Leak)Sanitizer|: runtime error: '
if grep -Eq "$pattern" "$log"; then
  echo "sanitize: sanitizer reports in the test output ($log):" >&2
  grep -En -B2 -A30 "$pattern" "$log" >&2 || true
  status=1
fi
exit "$status"

#!/usr/bin/env bash
# Sanitizer builds and their test runs, for CI (.ci/run) and for developers:
#   scripts/sanitize.sh asan   # build-asan: AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer);
#                              # runs every CTest test: unit tests, fuzz replays, integration, conformance
#   scripts/sanitize.sh tsan   # build-tsan: ThreadSanitizer; runs the daemon tests (integration and
#                              # conformance). The daemon starts one worker per core, so with 2+ cores
#                              # every one of them is multi-worker; TSAN_LABELS=multiworker runs only the
#                              # modules that set several workers themselves or need them (quicker)
#   scripts/sanitize.sh all    # both (the default)
# Extra arguments go to ctest, e.g. `scripts/sanitize.sh asan -R integration.test_qos`.
# Compiler: clang (the same toolchain as the libFuzzer targets); the build is one CMake option,
# EDGEMQ_SANITIZE=address|thread, in the top-level CMakeLists.txt.
#
# Any sanitizer report fails the run, including one from a daemon the Python tests start and
# later kill: every report is written to <build>/sanitizer-reports/ (log_path), printed at the
# end, and its presence alone makes the script exit 1. halt_on_error stops a process at its first
# report; UBSan is compiled with -fno-sanitize-recover=all so undefined behaviour aborts too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-all}
[ $# -gt 0 ] && shift
JOBS=${JOBS:-$(nproc)}

case "$mode" in
  asan | tsan | all) ;;
  *)
    echo "usage: $0 asan|tsan|all [ctest args...]" >&2
    exit 2
    ;;
esac

./scripts/install-deps.sh --sanitize

configure() {  # build dir, EDGEMQ_SANITIZE value
  CC=clang CXX=clang++ cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEMQ_SANITIZE="$2" >/dev/null
}

# Runs ctest in a build dir with the sanitizer options set; fails on a failed test or on any report.
run_tests() {
  local dir=$1 sanitizer=$2
  shift 2
  local reports=$root/$dir/sanitizer-reports
  rm -rf "$reports"
  mkdir -p "$reports"
  local rc=0
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:print_suppressions=0:log_path=$reports/report" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/report" \
    LSAN_OPTIONS="print_suppressions=0" \
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:print_suppressions=0:suppressions=$root/tests/sanitizers/tsan.supp:log_path=$reports/report" \
    EDGEMQ_SANITIZER="$sanitizer" ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --timeout 600 "$@" || rc=1
  if compgen -G "$reports/*" >/dev/null; then
    for f in "$reports"/*; do
      echo "==== sanitizer report $f"
      cat "$f"
    done
    echo "FAILED: sanitizer reports in $reports" >&2
    rc=1
  fi
  return $rc
}

status=0
if [ "$mode" = asan ] || [ "$mode" = all ]; then
  configure build-asan address
  cmake --build build-asan -j"$JOBS"
  run_tests build-asan address "$@" || status=1
fi
if [ "$mode" = tsan ] || [ "$mode" = all ]; then
  configure build-tsan thread
  # Only what the daemon tests run: the daemon and the tools they call.
  cmake --build build-tsan -j"$JOBS" --target edgemq edgemq-cli edgemq-bench edgemq-limit edgemq-statestore-bench edgemq-statestore-load
  run_tests build-tsan thread -L "${TSAN_LABELS:-integration|conformance}" "$@" || status=1
fi
exit $status

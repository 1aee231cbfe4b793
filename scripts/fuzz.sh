#!/usr/bin/env bash
# Runs one libFuzzer target for a while, niced (the machine is shared), starting from its committed
# seed corpus. New inputs go to a work corpus outside the tree so the committed seeds stay small.
#   scripts/fuzz.sh build     # configure and build every *_fuzzer with clang into build-fuzz
#   scripts/fuzz.sh run TARGET [SECONDS]   # e.g. scripts/fuzz.sh run resp3 600
# Crashes are written to $FUZZ_WORK/TARGET/crashes/ and make the run fail.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
FUZZ_WORK=${FUZZ_WORK:-$PWD/$BUILD_DIR/fuzz-work}

case "${1:-}" in
  build)
    CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEMQ_FUZZ=ON >/dev/null
    targets=$(cmake --build "$BUILD_DIR" --target help | sed -n 's/^\.\.\. \(.*_fuzzer\)$/\1/p')
    # shellcheck disable=SC2086
    cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target $targets
    ;;
  run)
    t=${2:?target name, e.g. resp3}
    secs=${3:-600}
    bin=$BUILD_DIR/tests/${t}_fuzzer
    [ -x "$bin" ] || { echo "no $bin: run '$0 build' first" >&2; exit 2; }
    mkdir -p "$FUZZ_WORK/$t/corpus" "$FUZZ_WORK/$t/crashes"
    nice -n 19 "$bin" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$FUZZ_WORK/$t/crashes/" "$FUZZ_WORK/$t/corpus" "tests/fuzz/corpus/$t"
    ;;
  *)
    echo "usage: $0 build | run TARGET [SECONDS]" >&2
    exit 2
    ;;
esac

#!/bin/sh
# Builds the fuzz targets with clang in their own build tree and runs the
# qcow2 target over the seed corpus for a while. Exit 77 (skip) without clang
# or libFuzzer; non-zero when the fuzzer finds a crash, leak, timeout or
# oversized allocation (the input is kept in BUILD_DIR/artifacts).
# Usage: run_fuzz.sh CLANGXX BUILD_DIR SECONDS
set -u
CLANGXX=$1
BUILD=$2
SECONDS_BUDGET=$3
SRC=$(cd "$(dirname "$0")" && pwd)
command -v "$CLANGXX" >/dev/null 2>&1 || { echo "SKIP: $CLANGXX not installed"; exit 77; }
launcher=""
command -v ccache >/dev/null 2>&1 && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
generator=""
command -v ninja >/dev/null 2>&1 && generator="-G Ninja"
mkdir -p "$BUILD"
# shellcheck disable=SC2086
cmake -S "$SRC" -B "$BUILD/build" $generator -DCMAKE_CXX_COMPILER="$CLANGXX" $launcher \
  >"$BUILD/configure.log" 2>&1 || { cat "$BUILD/configure.log"; exit 1; }
nice cmake --build "$BUILD/build" -j2 >"$BUILD/build.log" 2>&1 || { tail -50 "$BUILD/build.log"; exit 1; }
seeds="$BUILD/seeds"
if [ ! -d "$seeds" ] && command -v qemu-img >/dev/null 2>&1; then
  sh "$SRC/make_corpus.sh" "$seeds" >/dev/null || exit 1
fi
mkdir -p "$seeds" "$BUILD/corpus" "$BUILD/artifacts"
exec "$BUILD/build/qcow2_open_fuzz" -max_total_time="$SECONDS_BUDGET" -rss_limit_mb=1024 \
  -malloc_limit_mb=1024 -timeout=30 -max_len=262144 -print_final_stats=1 \
  -artifact_prefix="$BUILD/artifacts/" "$BUILD/corpus" "$seeds"

#!/bin/sh
# Builds a fuzz target with clang in its own build tree and runs it over its
# seed corpus for a while. Exit 77 (skip) without clang or libFuzzer;
# non-zero when the fuzzer finds a crash, leak, timeout or oversized
# allocation (the input is kept in the target's artifacts directory).
# Usage: run_fuzz.sh CLANGXX BUILD_DIR SECONDS [TARGET]
#   TARGET: qcow2_open_fuzz (the default), virtio_net_fuzz, remote_packet_fuzz,
#   domain_xml_fuzz or jit_lockstep_fuzz
set -u
CLANGXX=$1
BUILD=$2
SECONDS_BUDGET=$3
TARGET=${4:-qcow2_open_fuzz}
SRC=$(cd "$(dirname "$0")" && pwd)
command -v "$CLANGXX" >/dev/null 2>&1 || { echo "SKIP: $CLANGXX not installed"; exit 77; }
case $TARGET in
  qcow2_open_fuzz) work=$BUILD; max_len=262144 ;;
  virtio_net_fuzz) work=$BUILD/virtio_net; max_len=65792 ;;
  remote_packet_fuzz) work=$BUILD/remote_packet; max_len=4096 ;;
  domain_xml_fuzz) work=$BUILD/domain_xml; max_len=8192 ;;
  jit_lockstep_fuzz) work=$BUILD/jit_lockstep; max_len=4096 ;;
  *) echo "unknown fuzz target $TARGET" >&2; exit 2 ;;
esac
launcher=""
command -v ccache >/dev/null 2>&1 && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
generator=""
command -v ninja >/dev/null 2>&1 && generator="-G Ninja"
mkdir -p "$work"
# shellcheck disable=SC2086
cmake -S "$SRC" -B "$BUILD/build" $generator -DCMAKE_CXX_COMPILER="$CLANGXX" $launcher \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
targets=$TARGET
[ "$TARGET" = virtio_net_fuzz ] && targets="$TARGET virtio_net_seeds"
# shellcheck disable=SC2086
nice cmake --build "$BUILD/build" -j2 --target $targets >"$work/build.log" 2>&1 ||
  { tail -50 "$work/build.log"; exit 1; }
seeds="$work/seeds"
if [ ! -d "$seeds" ]; then
  case $TARGET in
    qcow2_open_fuzz)
      if command -v qemu-img >/dev/null 2>&1; then
        sh "$SRC/make_corpus.sh" "$seeds" >/dev/null || exit 1
      fi
      ;;
    virtio_net_fuzz)
      mkdir -p "$seeds" && "$BUILD/build/virtio_net_seeds" "$seeds" >/dev/null || exit 1
      ;;
    domain_xml_fuzz)
      # The daemon tests' own domain XML, as the start.
      mkdir -p "$seeds" && cp "$SRC"/seeds/domain_xml/* "$seeds"/ || exit 1
      ;;
  esac
fi
mkdir -p "$seeds" "$work/corpus" "$work/artifacts"
exec "$BUILD/build/$TARGET" -max_total_time="$SECONDS_BUDGET" -rss_limit_mb=1024 \
  -malloc_limit_mb=1024 -timeout=30 -max_len="$max_len" -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds"

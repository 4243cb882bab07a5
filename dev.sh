#!/usr/bin/env bash
# The two entry points of a fresh checkout:
#   ./dev.sh run    install what is needed, build Vessel and the default guest, boot it
#   ./dev.sh test   install what is needed, build with sanitizers, run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

jobs=$(nproc)

install_deps() { ./scripts/install-deps.sh; }

build() {  # build DIR [cmake options...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

build_guest() { make -C guest -j "$jobs"; }

case "${1:-}" in
  run)
    shift
    install_deps
    build build -DCMAKE_BUILD_TYPE=Release
    build_guest
    exec ./build/vessel run "$@"
    ;;
  test)
    install_deps
    build_guest
    build build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVESSEL_SANITIZE=ON
    ctest --test-dir build-test --output-on-failure -j "$jobs" --timeout 600
    ;;
  *)
    echo "usage: ./dev.sh run [vessel run options]   build everything and boot the default guest" >&2
    echo "       ./dev.sh test                        build with sanitizers and run all tests" >&2
    exit 2
    ;;
esac

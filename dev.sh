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

# The default guest's network: user mode, with its telnet (23) and web server
# (80) forwarded to host ports on 127.0.0.1 that nothing else holds yet.
default_nic() {
  local nic=user port guest_port
  for forward in 2222:23 8080:80; do
    port=${forward%:*} guest_port=${forward#*:}
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "dev.sh: 127.0.0.1:$port is taken; guest port $guest_port is not forwarded" >&2
    else
      nic+=",hostfwd=tcp:127.0.0.1:$port-:$guest_port"
      echo "dev.sh: guest port $guest_port is at 127.0.0.1:$port" >&2
    fi
  done
  echo "$nic"
}

case "${1:-}" in
  run)
    shift
    install_deps
    build build -DCMAKE_BUILD_TYPE=Release
    build_guest
    # A --nic of the caller's replaces the default one.
    case " $* " in
      *" --nic "* | *" --nic="*) exec ./build/vessel run "$@" ;;
      *) exec ./build/vessel run --nic "$(default_nic)" "$@" ;;
    esac
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

#!/usr/bin/env bash
# Assembles Vessel's ISA tests and runs each on QEMU's virt machine, the
# reference the tests were validated against (QEMU 7.2).
#
#   tests/isa/run-on-qemu.sh                    run every test
#   tests/isa/run-on-qemu.sh rv64i_alu pmp      run the named ones
#   tests/isa/run-on-qemu.sh --each-check [...] also rebuild each test once per
#       check with that check broken (--defsym BREAK_CHECK=n) and require the
#       run to fail with exactly that number: every check is reached and
#       reports its own number
#
# The tests are assembled with QEMU_QUIRKS defined, which accepts the few
# places where QEMU 7.2 departs from the specification (each is marked at its
# check); the ctest build for Vessel does not define it.
#
# Environment: QEMU (default qemu-system-riscv64), RISCV_AS, RISCV_LD,
# ISA_OUT (directory for the ELF files and logs; default a temporary one),
# ISA_TIMEOUT (seconds per run, default 60).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
qemu=${QEMU:-qemu-system-riscv64}
as=${RISCV_AS:-riscv64-linux-gnu-as}
ld=${RISCV_LD:-riscv64-linux-gnu-ld}
objcopy=${RISCV_OBJCOPY:-riscv64-linux-gnu-objcopy}
limit=${ISA_TIMEOUT:-60}
each=0
if [ "${1:-}" = --each-check ]; then
  each=1
  shift
fi
out=${ISA_OUT:-}
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in "$here"/*.S; do
    n=$(basename "$f" .S)
    [ "$n" = common ] || names+=("$n")
  done
fi

build() {  # build NAME OUTBASE [as options...]: OUTBASE.o and OUTBASE.elf
  local n=$1 base=$2
  shift 2
  # (in the source directory: the assembler looks for .include files in the
  # working directory first)
  (cd "$here" && "$as" -march=rv64gc_zicsr_zifencei -I "$here" --defsym QEMU_QUIRKS=1 "$@" \
    -o "$base.o" "$here/$n.S") >"$base.log" 2>&1 &&
    "$ld" -nostdlib --no-warn-rwx-segments -T "$here/link.ld" -o "$base.elf" "$base.o" >>"$base.log" 2>&1
}

run() {  # run ELF LOG: prints QEMU's exit status
  local rc=0
  timeout "$limit" "$qemu" -machine virt -m 64M -nographic -bios "$1" </dev/null >"$2" 2>&1 || rc=$?
  echo $rc
}

describe() {
  case $1 in
    0) echo "pass" ;;
    124) echo "timed out after ${limit}s" ;;
    *) echo "exit status $1" ;;
  esac
}

passed=0
failed=0
for n in "${names[@]}"; do
  if ! build "$n" "$out/$n"; then
    echo "isa.$n: FAIL (does not assemble)"
    sed 's/^/    /' "$out/$n.log"
    failed=$((failed + 1))
    continue
  fi
  rc=$(run "$out/$n.elf" "$out/$n.log")
  if [ "$rc" -ne 0 ]; then
    echo "isa.$n: FAIL ($(describe "$rc"))"
    sed 's/^/    /' "$out/$n.log" | tail -n 5
    failed=$((failed + 1))
    continue
  fi
  if [ $each -eq 1 ]; then
    "$objcopy" --dump-section .isa_checks="$out/$n.checks" "$out/$n.o"
    bad=0
    count=0
    while read -r num kind; do
      [ "$kind" -eq 1 ] || continue
      count=$((count + 1))
      build "$n" "$out/$n.break" --defsym BREAK_CHECK="$num" || { bad=1; echo "  check $num: does not assemble"; continue; }
      got=$(run "$out/$n.break.elf" "$out/$n.break.log")
      if [ "$got" -ne "$num" ]; then
        echo "  check $num broken: $(describe "$got"), expected exit status $num"
        bad=1
      fi
    done < <(od -An -tu1 -v -w2 "$out/$n.checks")
    if [ $bad -ne 0 ]; then
      echo "isa.$n: FAIL (a broken check was not reported)"
      failed=$((failed + 1))
      continue
    fi
    echo "isa.$n: PASS ($count checks each shown to fail when broken)"
  else
    echo "isa.$n: PASS"
  fi
  passed=$((passed + 1))
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

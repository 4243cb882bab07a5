/* Hart 1 waits for an IPI with only MSIP enabled; hart 0 sends it through
   the CLINT and then stops for good (mie = 0). Hart 1 wakes and powers the
   machine off: a hart waiting for an IPI that is on its way is not halted.
   Run with --smp 2. */
#include "test_device.h"
#define CLINT_MSIP 0x2000000
  .section .text.start
  .global _start
_start:
  csrw mie, zero
  bnez a0, waiter
  /* Give hart 1 time to reach its WFI, then send the IPI. */
  li t0, 200000
1:
  addi t0, t0, -1
  bnez t0, 1b
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 4(t0)
2:
  wfi
  j 2b
waiter:
  li t0, 1 << 3 /* MSIP */
  csrw mie, t0
3:
  wfi
  csrr t1, mip
  andi t1, t1, 1 << 3
  beqz t1, 3b
  finish TEST_PASS

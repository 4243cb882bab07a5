/* Every hart checks its boot registers (a0 = hart ID, a1 = device tree)
   and checks in with an atomic add; hart 0 powers off once `harts` (the
   number passed in by the build, default 4) have checked in. A wrong
   register fails with code 10 + hart ID. */
#include "test_device.h"
#ifndef HARTS
#define HARTS 4
#endif
  .section .text.start
  .global _start
_start:
  csrr t0, mhartid
  bne t0, a0, bad
  lwu t1, 0(a1)
  li t2, 0xedfe0dd0 /* FDT magic 0xd00dfeed, big-endian in memory */
  bne t1, t2, bad
  la t3, arrived
  li t4, 1
  amoadd.w t5, t4, (t3)
  bnez a0, park
  li t4, HARTS
1:
  lw t5, 0(t3)
  bne t5, t4, 1b
  finish TEST_PASS
park:
  wfi
  j park
bad:
  li t0, TEST_DEVICE
  addi t1, a0, 10
  slli t1, t1, 16
  li t2, TEST_FAIL
  or t1, t1, t2
  sw t1, 0(t0)
2: j 2b

  .section .data
  .balign 4
arrived:
  .word 0

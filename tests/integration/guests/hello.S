/* Prints a line on UART0, then powers off. */
#include "test_device.h"
  .section .text.start
  .global _start
_start:
  li t0, UART0
  la t1, message
1:
  lbu t2, 0(t1)
  beqz t2, 2f
  sb t2, 0(t0)
  addi t1, t1, 1
  j 1b
2:
  finish TEST_PASS

  .section .rodata
message:
  .string "hello from the guest\n"

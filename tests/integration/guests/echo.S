/* Echoes UART0 input back, uppercased letters unchanged, until it reads
   'q'; then powers off. */
#include "test_device.h"
  .section .text.start
  .global _start
_start:
  li t0, UART0
1:
  lbu t1, UART_LSR(t0)
  andi t1, t1, UART_LSR_DATA_READY
  beqz t1, 1b
  lbu t2, 0(t0)
  sb t2, 0(t0)
  li t3, 'q'
  bne t2, t3, 1b
  finish TEST_PASS

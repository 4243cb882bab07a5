/* Asks for a reboot: `vessel run` exits with 2. */
#include "test_device.h"
  .section .text.start
  .global _start
_start:
  finish TEST_RESET

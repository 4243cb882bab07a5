/* Reports failure code 7 through the test device: `vessel run` exits with 7. */
#include "test_device.h"
  .section .text.start
  .global _start
_start:
  finish ((7 << 16) | TEST_FAIL)

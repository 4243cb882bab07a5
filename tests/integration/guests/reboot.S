/* Reboots once in place, then powers off. The first boot marks a word of RAM
   outside its image and asks for a reset; the second finds the mark (RAM
   keeps its contents across a reset, as on QEMU) and powers off. The
   program's own .data must be back as in the file at the second boot (the
   boot images are reloaded): failure code 2 otherwise. With --no-reboot the
   first reset request ends `vessel run` with 2. Other harts sleep in WFI
   (with nothing enabled in mie): a reset must wake them too. */
#include "test_device.h"
#define MARK 0x80100000
  .section .text.start
  .global _start
_start:
  bnez a0, sleep
  lla t2, image_word
  lw t3, 0(t2)
  bnez t3, stale_image
  li t3, 1
  sw t3, 0(t2)
  li t2, MARK
  lw t3, 0(t2)
  bnez t3, second_boot
  li t3, 1
  sw t3, 0(t2)
  finish TEST_RESET
second_boot:
  finish TEST_PASS
stale_image:
  finish ((2 << 16) | TEST_FAIL)
sleep:
  wfi
  j sleep

  .data
image_word:
  .word 0

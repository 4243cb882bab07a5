/* Disables every interrupt and waits for one: the machine can never run
   again, so `vessel run` exits with 3. */
  .section .text.start
  .global _start
_start:
  csrw mie, zero
1:
  wfi
  j 1b

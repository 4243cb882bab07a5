/* Hart 0 stops for good (mie = 0); every other hart waits for an IPI that
   no one is left to send (mie = MSIP only). `vessel run --smp N` exits 3. */
  .section .text.start
  .global _start
_start:
  csrw mie, zero
  beqz a0, 1f
  li t0, 1 << 3 /* MSIP */
  csrw mie, t0
1:
  wfi
  j 1b

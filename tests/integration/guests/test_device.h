/* The `virt` board's test device (QEMU's sifive_test) and UART0. */
#define TEST_DEVICE 0x100000
#define TEST_PASS 0x5555
#define TEST_RESET 0x7777
#define TEST_FAIL 0x3333 /* | code << 16 */
#define UART0 0x10000000
#define UART_LSR 5
#define UART_LSR_DATA_READY 0x01

/* Stops the machine with `value` (clobbers t0, t1). */
.macro finish value
  li t0, TEST_DEVICE
  li t1, \value
  sw t1, 0(t0)
1: j 1b
.endm

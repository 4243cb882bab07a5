# Shared runtime of Vessel's bare-metal ISA tests (RV64GC, virt board).
#
# A test is one assembly file:
#
#       .include "common.S"
#   test_main:                  # entered in M-mode, a0 = hart id, a1 = device tree
#       li a0, 2
#       addi a0, a0, 3
#       CHECK 1, a0, 5          # check number 1: a0 must equal 5
#       PASS
#
# Result: through the sifive_test device at physical 0x100000, as on QEMU's
# virt machine: the 32-bit value 0x5555 means pass, 0x3333 | (N << 16) means
# failure N. `vessel run` and QEMU both exit with status N.
#
#   N = 1..199    check number N failed (numbers strictly increase in a file)
#   N = 200 + c   unexpected exception, mcause = c, taken in M-mode
#   N = 224 + c   unexpected interrupt, mcause = interrupt c, taken in M-mode
#   N = 240 + c   unexpected trap taken in S-mode, scause & 15 = c
#
# A failure also prints one line on the UART (ns16550 at 0x10000000) with the
# check number and, for an unexpected trap, the trap CSRs.
#
# Register conventions: the macros use t5 and t6 as scratch, FAIL paths
# clobber a0, and GOTO_M clobbers a6 and leaves a7 = 0. The trap handlers
# preserve every other register. All code is assembled without compressed
# instructions (.option norvc) unless a test turns them on.
#
# Expected traps: `TRY insn` runs one instruction that is expected to trap.
# The handler of the mode that takes the trap (M, or S when delegated) records
# the trap in trap_record, and continues after the TRY in the mode the trap
# came from, with t5 = cause and t6 = tval; without a trap t5 = -1. Then
# CHECK_TRAP / CHECK_IRQ / CHECK_TVAL / CHECK_NO_TRAP test them. An expected
# interrupt also leaves xPIE clear and its own bit in mie / sie clear, so it
# is not taken again on return (its source may still be pending).
# TRY_ARM label / TRY_DISARM do the same around a longer piece of code. The
# handlers reuse mepc / sepc to continue, so check the trapping pc with
# CHECK_EPC (trap_record), not by reading xepc.
#
# Privilege: GOTO_MODE m (from M) continues at the next instruction in mode
# m, GOTO_MODE_AT m, label at a label; SRET_TO m does the same from S with
# sret; GOTO_M (from any mode) continues at the next instruction in M-mode
# with mstatus.MIE = 0 (an ecall with a magic a7 that both handlers
# recognise). A test that runs checks outside M-mode sets
# `.set FAIL_VIA_ECALL, 1` before including this file, so that failures are
# reported through M-mode.
#
# Places where QEMU 7.2, the reference, departs from the specification are
# accepted only when the program is assembled with QEMU_QUIRKS defined
# (run-on-qemu.sh does that; the build for Vessel does not).

        .option norvc
        .option nopic
        .option norelax

# ---------------------------------------------------------------- constants
        .equ TEST_DEVICE,       0x100000
        .equ TEST_PASS,         0x5555
        .equ TEST_FAIL,         0x3333
        .equ UART0,             0x10000000
        .equ CLINT_MSIP,        0x2000000
        .equ CLINT_MTIMECMP,    0x2004000
        .equ CLINT_MTIME,       0x200bff8
        .equ RAM_BASE,          0x80000000

        .equ PRV_U, 0
        .equ PRV_S, 1
        .equ PRV_M, 3

        .equ MSTATUS_SIE,  1 << 1
        .equ MSTATUS_MIE,  1 << 3
        .equ MSTATUS_SPIE, 1 << 5
        .equ MSTATUS_MPIE, 1 << 7
        .equ MSTATUS_SPP,  1 << 8
        .equ MSTATUS_MPP,  3 << 11
        .equ MSTATUS_FS,   3 << 13
        .equ MSTATUS_MPRV, 1 << 17
        .equ MSTATUS_SUM,  1 << 18
        .equ MSTATUS_MXR,  1 << 19
        .equ MSTATUS_TVM,  1 << 20
        .equ MSTATUS_TW,   1 << 21
        .equ MSTATUS_TSR,  1 << 22
        .equ MSTATUS_SD,   1 << 63
        .equ SSTATUS_SIE,  MSTATUS_SIE
        .equ SSTATUS_SPIE, MSTATUS_SPIE
        .equ SSTATUS_SPP,  MSTATUS_SPP

        .equ CAUSE_MISALIGNED_FETCH, 0
        .equ CAUSE_FETCH_ACCESS,     1
        .equ CAUSE_ILLEGAL,          2
        .equ CAUSE_BREAKPOINT,       3
        .equ CAUSE_MISALIGNED_LOAD,  4
        .equ CAUSE_LOAD_ACCESS,      5
        .equ CAUSE_MISALIGNED_STORE, 6
        .equ CAUSE_STORE_ACCESS,     7
        .equ CAUSE_ECALL_U,          8
        .equ CAUSE_ECALL_S,          9
        .equ CAUSE_ECALL_M,          11
        .equ CAUSE_FETCH_PAGE,       12
        .equ CAUSE_LOAD_PAGE,        13
        .equ CAUSE_STORE_PAGE,       15

        .equ IRQ_S_SOFT,  1
        .equ IRQ_M_SOFT,  3
        .equ IRQ_S_TIMER, 5
        .equ IRQ_M_TIMER, 7
        .equ IRQ_S_EXT,   9
        .equ IRQ_M_EXT,   11
        .equ MIP_SSIP, 1 << IRQ_S_SOFT
        .equ MIP_MSIP, 1 << IRQ_M_SOFT
        .equ MIP_STIP, 1 << IRQ_S_TIMER
        .equ MIP_MTIP, 1 << IRQ_M_TIMER

        .equ PMP_R,     0x01
        .equ PMP_W,     0x02
        .equ PMP_X,     0x04
        .equ PMP_TOR,   0x08
        .equ PMP_NA4,   0x10
        .equ PMP_NAPOT, 0x18
        .equ PMP_L,     0x80

        .equ PTE_V, 1 << 0
        .equ PTE_R, 1 << 1
        .equ PTE_W, 1 << 2
        .equ PTE_X, 1 << 3
        .equ PTE_U, 1 << 4
        .equ PTE_G, 1 << 5
        .equ PTE_A, 1 << 6
        .equ PTE_D, 1 << 7
        .equ SATP_SV39, 8 << 60
        .equ SATP_SV48, 9 << 60

        .equ TRY_MAGIC,   0x7e57
        .equ MAGIC_TO_M,  0x4d4d
        .equ MAGIC_FAIL,  0x4641
        .equ FIRST_TRAP_CODE, 200

# Offsets in trap_record, written by both handlers for every recorded trap.
        .equ TR_CAUSE,  0       # mcause / scause
        .equ TR_EPC,    8       # mepc / sepc
        .equ TR_TVAL,   16      # mtval / stval
        .equ TR_STATUS, 24      # mstatus / sstatus on entry to the handler
        .equ TR_FROM,   32      # privilege the trap came from (xPP)
        .equ TR_TO,     40      # privilege that took it (3 or 1)
        .equ TR_COUNT,  48      # traps recorded so far

# ------------------------------------------------------------------- checks
        .set __check_last, 0
# Every check number is listed in the non-loaded section .isa_checks as two
# bytes: the number and its kind (1 = a comparison, reached on the way to
# PASS; 0 = a FAIL_NOW on a path that must not be taken). Assembling with
# --defsym BREAK_CHECK=n makes comparison n fail unconditionally, which
# run-on-qemu.sh --each-check uses to show that every check is reached and
# reports its own number.
.macro __CHECKNUM n, kind=1
  .if (\n) <= __check_last
    .error "check numbers must be strictly increasing"
  .endif
  .if (\n) >= FIRST_TRAP_CODE
    .error "check number too large"
  .endif
  .set __check_last, (\n)
  .pushsection .isa_checks, "", @progbits
  .byte (\n), \kind
  .popsection
  .ifdef BREAK_CHECK
  .if ((\n) == BREAK_CHECK) && \kind
  li a0, \n
  j fail
  .endif
  .endif
.endm

# Fail unconditionally with check number n (on a path that must not run).
.macro FAIL_NOW n
  __CHECKNUM \n, 0
  li a0, \n
  j fail
.endm

# reg == val (val: any 64-bit constant expression).
.macro CHECK n, reg, val
  .ifc \reg, t6
    .error "CHECK: t6 is the scratch register"
  .endif
  __CHECKNUM \n
  li t6, \val
  beq \reg, t6, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# r1 == r2.
.macro CHECK_REG n, r1, r2
  __CHECKNUM \n
  beq \r1, \r2, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# csr == val.
.macro CHECK_CSR n, csr, val
  __CHECKNUM \n
  csrr t6, \csr
  li t5, \val
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# (csr & mask) == val.
.macro CHECK_CSR_MASK n, csr, mask, val
  __CHECKNUM \n
  csrr t6, \csr
  li t5, \mask
  and t6, t6, t5
  li t5, \val
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# 64-bit doubleword at symbol == val.
.macro CHECK_MEM n, sym, val
  __CHECKNUM \n
  ld t6, \sym
  li t5, \val
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# All 64 bits of an FP register == bits.
.macro CHECK_D n, freg, bits
  __CHECKNUM \n
  fmv.x.d t6, \freg
  li t5, \bits
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# FP register holds the NaN-boxed single `bits` (upper 32 bits all ones).
.macro CHECK_S n, freg, bits
  CHECK_D \n, \freg, (0xffffffff00000000 | ((\bits) & 0xffffffff))
.endm

# fflags == val.
.macro CHECK_FFLAGS n, val
  CHECK_CSR \n, fflags, \val
.endm

# ----------------------------------------------------------- expected traps
.macro TRY_ARM resume
  la t6, \resume
  li t5, TRY_MAGIC
.endm
.macro TRY_DISARM
  li t5, -1
.endm
.macro TRY insn:vararg
  TRY_ARM .Ltry\@
  \insn
  TRY_DISARM
.Ltry\@:
.endm

# After TRY: an exception with this cause came.
.macro CHECK_TRAP n, cause
  __CHECKNUM \n
  addi t5, t5, -(\cause)
  beqz t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# After TRY: interrupt number `code` came (mcause/scause = 1 << 63 | code).
.macro CHECK_IRQ n, code
  __CHECKNUM \n
  addi t5, t5, -(\code)
  bgez t5, .Lbad\@
  slli t5, t5, 1
  beqz t5, .Lok\@
.Lbad\@:
  li a0, \n
  j fail
.Lok\@:
.endm

# After TRY: no trap came.
.macro CHECK_NO_TRAP n
  __CHECKNUM \n
  addi t5, t5, 1
  beqz t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# After TRY (and CHECK_TRAP): tval == val.
.macro CHECK_TVAL n, val
  __CHECKNUM \n
  li t5, \val
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm
.macro CHECK_TVAL_REG n, reg
  __CHECKNUM \n
  beq t6, \reg, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# The last recorded trap: field at offset `field` of trap_record == val.
.macro CHECK_RECORD n, field, val
  __CHECKNUM \n
  la t6, trap_record
  ld t6, \field(t6)
  li t5, \val
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# The last recorded trap: (field & mask) == val.
.macro CHECK_RECORD_MASK n, field, mask, val
  __CHECKNUM \n
  la t6, trap_record
  ld t6, \field(t6)
  li t5, \mask
  and t6, t6, t5
  li t5, \val
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# The last recorded trap's epc is `label`.
.macro CHECK_EPC n, label
  __CHECKNUM \n
  la t6, trap_record
  ld t6, TR_EPC(t6)
  la t5, \label
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

# Run one instruction that must trap with `cause`.
.macro EXPECT_TRAP n, cause, insn:vararg
  TRY \insn
  CHECK_TRAP \n, \cause
.endm

# ---------------------------------------------------------------- privilege
.macro GOTO_MODE mode
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  li t6, (\mode) << 11
  csrs mstatus, t6
  la t6, .Lmode\@
  csrw mepc, t6
  mret
.Lmode\@:
.endm

# From M-mode: continue at `label` in `mode`.
.macro GOTO_MODE_AT mode, label
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  li t6, (\mode) << 11
  csrs mstatus, t6
  la t6, \label
  csrw mepc, t6
  mret
.endm

.macro SRET_TO mode
  li t6, SSTATUS_SPP
  csrc sstatus, t6
  .if (\mode) == PRV_S
  csrs sstatus, t6
  .endif
  la t6, .Lmode\@
  csrw sepc, t6
  sret
.Lmode\@:
.endm

.macro GOTO_M
  la a6, .Lm\@
  li a7, MAGIC_TO_M
  ecall
.Lm\@:
.endm

.macro PASS
  j pass
.endm

# Turn the FPU on (mstatus.FS = Initial) and clear fcsr.
.macro FP_ENABLE
  li t6, 1 << 13
  csrs mstatus, t6
  csrw fcsr, zero
.endm

.macro SAVE_GPRS base
  .irp r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
  sd x\r, 8*\r(\base)
  .endr
.endm
.macro RESTORE_GPRS base
  .irp r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
  ld x\r, 8*\r(\base)
  .endr
.endm

# -------------------------------------------------------------------- entry
        .section .text.init, "ax", @progbits
        .globl _start
_start:
        la t0, m_trap_vector
        csrw mtvec, t0
        csrr t0, mhartid
        bnez t0, .Lpark
        la t0, boot_hartid
        sd a0, 0(t0)
        la t0, boot_dtb
        sd a1, 0(t0)
        la t0, m_save
        csrw mscratch, t0
        la t0, s_trap_vector
        csrw stvec, t0
        la t0, s_save
        csrw sscratch, t0
        csrw mie, zero
        csrw mideleg, zero
        csrw medeleg, zero
        csrw satp, zero
        li t0, MSTATUS_MPP              # MPP = M; MIE, FS, MPRV off
        csrw mstatus, t0
        # PMP entry 0: all of memory readable, writable and executable, so
        # that S- and U-mode can run. Tests of the PMP change it.
        li t0, -1
        csrw pmpaddr0, t0
        li t0, PMP_NAPOT | PMP_R | PMP_W | PMP_X
        csrw pmpcfg0, t0
        la t0, __bss_start
        la t1, __bss_end
1:      bgeu t0, t1, 2f
        sd zero, 0(t0)
        addi t0, t0, 8
        j 1b
2:      la sp, stack_top
        ld a0, boot_hartid
        ld a1, boot_dtb
        j test_main
.Lpark:
        wfi
        j .Lpark

# ------------------------------------------------------------ M-mode traps
        .align 2
        .globl m_trap_vector
m_trap_vector:
        csrrw t6, mscratch, t6
        SAVE_GPRS t6
        csrr t5, mscratch
        sd t5, 8*31(t6)
        csrw mscratch, t6
        csrr s1, mcause
        csrr s2, mepc
        csrr s3, mtval
        csrr s4, mstatus
        # Magic ecalls (a0, a6, a7 still hold the trapping code's values).
        li t0, CAUSE_ECALL_U
        beq s1, t0, 1f
        li t0, CAUSE_ECALL_S
        beq s1, t0, 1f
        li t0, CAUSE_ECALL_M
        bne s1, t0, 2f
1:      li t0, MAGIC_FAIL
        beq a7, t0, .Lm_magic_fail
        li t0, MAGIC_TO_M
        beq a7, t0, .Lm_magic_to_m
2:      la t0, trap_record
        sd s1, TR_CAUSE(t0)
        sd s2, TR_EPC(t0)
        sd s3, TR_TVAL(t0)
        sd s4, TR_STATUS(t0)
        srli t1, s4, 11
        andi t1, t1, 3
        sd t1, TR_FROM(t0)
        li t1, PRV_M
        sd t1, TR_TO(t0)
        ld t1, TR_COUNT(t0)
        addi t1, t1, 1
        sd t1, TR_COUNT(t0)
        ld t1, 8*30(t6)                 # the trapping code's t5
        li t2, TRY_MAGIC
        bne t1, t2, .Lm_unexpected
        sd s1, 8*30(t6)                 # t5 = cause
        ld t1, 8*31(t6)                 # t6 = where to continue
        csrw mepc, t1
        sd s3, 8*31(t6)                 # t6 = tval
        bgez s1, 3f
        li t1, MSTATUS_MPIE             # interrupt: stay masked after mret,
        csrc mstatus, t1
        li t1, 1                        # and this source disabled in mie
        sll t1, t1, s1
        csrc mie, t1
3:      RESTORE_GPRS t6
        ld t6, 8*31(t6)
        mret
.Lm_magic_to_m:
        csrw mepc, a6
        li t0, MSTATUS_MPP
        csrs mstatus, t0
        sd zero, 8*17(t6)                       # a7 = 0: no stale magic left
        li t0, MSTATUS_MPIE                     # continue with MIE = 0
        csrc mstatus, t0
        RESTORE_GPRS t6
        ld t6, 8*31(t6)
        mret
.Lm_magic_fail:
        j fail_report
.Lm_unexpected:
        bltz s1, 4f
        li t0, 23
        bleu s1, t0, 5f
        mv s1, t0
5:      addi a0, s1, FIRST_TRAP_CODE
        j fail_report
4:      andi a0, s1, 15
        addi a0, a0, FIRST_TRAP_CODE + 24
        j fail_report

# ------------------------------------------------------------ S-mode traps
        .align 2
        .globl s_trap_vector
s_trap_vector:
        csrrw t6, sscratch, t6
        SAVE_GPRS t6
        csrr t5, sscratch
        sd t5, 8*31(t6)
        csrw sscratch, t6
        csrr s1, scause
        csrr s2, sepc
        csrr s3, stval
        csrr s4, sstatus
        li t0, CAUSE_ECALL_U
        bne s1, t0, 1f
        li t0, MAGIC_FAIL
        beq a7, t0, .Ls_forward
        li t0, MAGIC_TO_M
        beq a7, t0, .Ls_forward
1:      la t0, trap_record
        sd s1, TR_CAUSE(t0)
        sd s2, TR_EPC(t0)
        sd s3, TR_TVAL(t0)
        sd s4, TR_STATUS(t0)
        srli t1, s4, 8
        andi t1, t1, 1
        sd t1, TR_FROM(t0)
        li t1, PRV_S
        sd t1, TR_TO(t0)
        ld t1, TR_COUNT(t0)
        addi t1, t1, 1
        sd t1, TR_COUNT(t0)
        ld t1, 8*30(t6)
        li t2, TRY_MAGIC
        bne t1, t2, .Ls_unexpected
        sd s1, 8*30(t6)
        ld t1, 8*31(t6)
        csrw sepc, t1
        sd s3, 8*31(t6)
        bgez s1, 2f
        li t1, SSTATUS_SPIE
        csrc sstatus, t1
        li t1, 1
        sll t1, t1, s1
        csrc sie, t1
2:      RESTORE_GPRS t6
        ld t6, 8*31(t6)
        sret
.Ls_forward:                            # a magic ecall from U: pass it to M
        RESTORE_GPRS t6
        ld t6, 8*31(t6)
        ecall
.Ls_unexpected:
        andi a0, s1, 15
        addi a0, a0, FIRST_TRAP_CODE + 40
        li a7, MAGIC_FAIL
        ecall

# ---------------------------------------------------------- pass and fail
        .globl pass, fail
pass:
        la a0, str_pass
        jal uart_puts
        li t0, TEST_DEVICE
        li t1, TEST_PASS
        sw t1, 0(t0)
1:      j 1b

# a0 = failure code. Reports from M-mode (directly, or through an ecall).
fail:
.ifdef FAIL_VIA_ECALL
        li a7, MAGIC_FAIL
        ecall
.endif
        # fall through: already in M-mode

# M-mode only: print the failure and stop. a0 = failure code.
fail_report:
        mv s0, a0
        la a0, str_fail
        jal uart_puts
        mv a0, s0
        jal uart_putdec
        li t0, FIRST_TRAP_CODE
        bltu s0, t0, 1f
        la a0, str_mcause
        jal uart_puts
        csrr a0, mcause
        jal uart_puthex
        la a0, str_mepc
        jal uart_puts
        csrr a0, mepc
        jal uart_puthex
        la a0, str_mtval
        jal uart_puts
        csrr a0, mtval
        jal uart_puthex
        li t0, FIRST_TRAP_CODE + 40
        bltu s0, t0, 1f
        la a0, str_scause
        jal uart_puts
        csrr a0, scause
        jal uart_puthex
        la a0, str_sepc
        jal uart_puts
        csrr a0, sepc
        jal uart_puthex
        la a0, str_stval
        jal uart_puts
        csrr a0, stval
        jal uart_puthex
1:      li a0, '\n'
        jal uart_putc
        li t0, TEST_DEVICE
        slli t1, s0, 16
        li t2, TEST_FAIL
        or t1, t1, t2
        sw t1, 0(t0)
2:      j 2b

# UART output (M-mode, no stack). uart_putc: a0 = byte; clobbers t0, t1.
uart_putc:
        li t0, UART0
        li t1, 100000
1:      lbu a1, 5(t0)                   # LSR: wait (bounded) for THRE
        andi a1, a1, 0x20
        bnez a1, 2f
        addi t1, t1, -1
        bnez t1, 1b
2:      sb a0, 0(t0)
        ret
# a0 = NUL-terminated string; clobbers t0-t3, a0, a1.
uart_puts:
        mv t3, ra
        mv t2, a0
1:      lbu a0, 0(t2)
        beqz a0, 2f
        jal uart_putc
        addi t2, t2, 1
        j 1b
2:      mv ra, t3
        ret
# a0 = value 0..999, printed in decimal without using M; clobbers t0-t4, a0,
# a1, s1, s2.
uart_putdec:
        mv t3, ra
        mv t2, a0
        mv s2, a0
        li t4, 100
        bltu s2, t4, 1f
        jal .Ldigit
1:      li t4, 10
        bltu s2, t4, 2f
        jal .Ldigit
2:      li t4, 1
        jal .Ldigit
        mv ra, t3
        ret
.Ldigit:                                # print t2 / t4 (a digit), keep the rest
        mv s1, ra
        li a0, '0'
1:      bltu t2, t4, 2f
        sub t2, t2, t4
        addi a0, a0, 1
        j 1b
2:      jal uart_putc
        mv ra, s1
        ret
# a0 = value, printed as 16 hex digits; clobbers t0-t4, a0, a1.
uart_puthex:
        mv t3, ra
        mv t2, a0
        li t4, 60
1:      srl a0, t2, t4
        andi a0, a0, 15
        li t0, 10
        bltu a0, t0, 2f
        addi a0, a0, 'a' - '0' - 10
2:      addi a0, a0, '0'
        jal uart_putc
        addi t4, t4, -4
        bgez t4, 1b
        mv ra, t3
        ret

# ------------------------------------------------------------------- data
        .section .rodata.common, "a", @progbits
str_pass:   .asciz "isa test: PASS\n"
str_fail:   .asciz "isa test: FAIL "
str_mcause: .asciz " mcause="
str_mepc:   .asciz " mepc="
str_mtval:  .asciz " mtval="
str_scause: .asciz " scause="
str_sepc:   .asciz " sepc="
str_stval:  .asciz " stval="

        .section .data.common, "aw", @progbits
        .align 3
        .globl boot_hartid, boot_dtb, trap_record
boot_hartid:    .dword 0
boot_dtb:       .dword 0
trap_record:    .dword -1, 0, 0, 0, 0, 0, 0
m_save:         .fill 32, 8, 0
s_save:         .fill 32, 8, 0

        .section .bss.common, "aw", @nobits
        .align 12
stack_bottom:   .skip 4096
stack_top:

        .text

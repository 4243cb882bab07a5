# Interrupts: the CLINT timer (mtime advancing, mtimecmp at 0x2004000,
# mip.MTIP following mtime >= mtimecmp) taken in M-mode, not taken while
# mstatus.MIE = 0 and taken right after the CSR write that enables it; WFI
# returning for a pending, enabled interrupt even with MIE = 0; the CLINT
# software interrupt; priority MSI over MTI; MTIP/MSIP read-only in mip;
# vectored mtvec; delegation through mideleg: sie/sip as views of mie/mip,
# a delegated interrupt never taken in M, taken in S only with SIE = 1 but
# always from U, an S timer interrupt raised by M through mip.STIP, and an
# undelegated supervisor interrupt taken in M.
        .set FAIL_VIA_ECALL, 1
        .include "common.S"

        .equ WAIT, 200000000                   # iterations before giving up

.macro SPIN reg, count
  li \reg, \count
.Lspin\@:
  addi \reg, \reg, -1
  bnez \reg, .Lspin\@
.endm

test_main:
        li s10, CLINT_MTIME
        li s11, CLINT_MTIMECMP
        li s9, CLINT_MSIP
        li t0, -1
        sd t0, 0(s11)                           # no timer interrupt
        # ---- mtime advances
        ld a0, 0(s10)
        SPIN s1, 100000
        ld a1, 0(s10)
        sltu a2, a0, a1
        CHECK 1, a2, 1
        CHECK_CSR_MASK 2, mip, MIP_MTIP, 0

        # ---- a timer interrupt taken in M-mode
        li t0, MIP_MTIP
        csrs mie, t0
        ld a0, 0(s10)
        addi a0, a0, 1000                       # 100 us at 10 MHz
        sd a0, 0(s11)
        TRY_ARM 1f
        csrsi mstatus, MSTATUS_MIE
        SPIN s1, WAIT
        TRY_DISARM
1:      CHECK_IRQ 3, IRQ_M_TIMER
        CHECK_RECORD 4, TR_FROM, PRV_M
        CHECK_CSR_MASK 5, mip, MIP_MTIP, MIP_MTIP       # still pending ...
        ld a1, 0(s10)
        sltu a2, a1, a0
        CHECK 6, a2, 0                          # ... because mtime >= mtimecmp
        CHECK_CSR_MASK 7, mstatus, MSTATUS_MIE, 0
        li t0, -1
        sd t0, 0(s11)                           # a new mtimecmp clears it
        CHECK_CSR_MASK 8, mip, MIP_MTIP, 0

        # ---- pending but globally disabled: taken at once when enabled
        sd zero, 0(s11)
        li t0, MIP_MTIP
        csrs mie, t0
        SPIN s1, 10000                          # MIE = 0: nothing happens
        CHECK_CSR_MASK 9, mip, MIP_MTIP, MIP_MTIP
        TRY_ARM 2f
        csrsi mstatus, MSTATUS_MIE
irq_after_enable:
        nop
        TRY_DISARM
2:      CHECK_IRQ 10, IRQ_M_TIMER
        CHECK_EPC 11, irq_after_enable          # before the next instruction
        li t0, -1
        sd t0, 0(s11)

        # ---- WFI returns for a pending enabled interrupt, MIE = 0 (no trap)
        la s8, trap_record
        ld s7, TR_COUNT(s8)
        li t0, MIP_MTIP
        csrs mie, t0
        ld a0, 0(s10)
        addi a0, a0, 2000
        sd a0, 0(s11)
        li s1, 100000
3:      wfi                                     # (WFI may also return early)
        csrr a1, mip
        andi a1, a1, MIP_MTIP
        bnez a1, 4f
        addi s1, s1, -1
        bnez s1, 3b
4:      CHECK 12, a1, MIP_MTIP
        ld a1, TR_COUNT(s8)
        CHECK_REG 13, a1, s7
        li t0, -1
        sd t0, 0(s11)
        li t0, MIP_MTIP
        csrc mie, t0

        # ---- the CLINT software interrupt
        li t0, MIP_MSIP
        csrs mie, t0
        li t0, 1
        sw t0, 0(s9)
        CHECK_CSR_MASK 14, mip, MIP_MSIP, MIP_MSIP
        TRY_ARM 5f
        csrsi mstatus, MSTATUS_MIE
        SPIN s1, 1000
        TRY_DISARM
5:      CHECK_IRQ 15, IRQ_M_SOFT
        sw zero, 0(s9)
        CHECK_CSR_MASK 16, mip, MIP_MSIP, 0

        # ---- priority: software before timer
        li t0, 1
        sw t0, 0(s9)
        sd zero, 0(s11)
        li t0, MIP_MSIP | MIP_MTIP
        csrs mie, t0
        TRY_ARM 6f
        csrsi mstatus, MSTATUS_MIE
        SPIN s1, 1000
        TRY_DISARM
6:      CHECK_IRQ 17, IRQ_M_SOFT
        sw zero, 0(s9)
        TRY_ARM 7f                              # (the handler disabled MSIE)
        csrsi mstatus, MSTATUS_MIE
        SPIN s1, 1000
        TRY_DISARM
7:      CHECK_IRQ 18, IRQ_M_TIMER
        li t0, -1
        sd t0, 0(s11)
        # MTIP and MSIP are read-only in mip
        li t0, MIP_MTIP | MIP_MSIP
        csrs mip, t0
        CHECK_CSR_MASK 19, mip, MIP_MTIP | MIP_MSIP, 0

        # ---- vectored mtvec: interrupts at base + 4 * code, exceptions at base
        csrr s6, sscratch
        la t0, vector_table
        ori t0, t0, 1
        csrw mtvec, t0
        csrr a0, mtvec
        CHECK_REG 20, a0, t0
        li t0, MIP_MSIP
        csrs mie, t0
        li t0, 1
        sw t0, 0(s9)
        TRY_ARM 8f
        csrsi mstatus, MSTATUS_MIE
        SPIN s1, 1000
        TRY_DISARM
8:      sw zero, 0(s9)
        CHECK_IRQ 21, IRQ_M_SOFT
        CHECK_CSR 22, sscratch, 3               # vector entry 3 ran
        li a7, 0
        TRY ecall
        CHECK_TRAP 23, CAUSE_ECALL_M
        CHECK_CSR 24, sscratch, 16              # exceptions: the base entry
        la t0, m_trap_vector
        csrw mtvec, t0
        csrw sscratch, s6

        # ---- delegation: sie / sip are views of mie / mip for delegated bits
        csrw mideleg, zero
        li t0, MIP_SSIP
        csrs sie, t0
        CHECK_CSR_MASK 25, sie, MIP_SSIP, 0     # not delegated: read-only zero
        li t0, MIP_SSIP | MIP_STIP
        csrw mideleg, t0
        CHECK_CSR_MASK 26, mideleg, MIP_SSIP | MIP_STIP, MIP_SSIP | MIP_STIP
        li t0, MIP_SSIP | MIP_STIP
        csrs sie, t0
        CHECK_CSR_MASK 27, mie, MIP_SSIP | MIP_STIP, MIP_SSIP | MIP_STIP
        li t0, MIP_SSIP
        csrs mip, t0
        CHECK_CSR_MASK 28, sip, MIP_SSIP, MIP_SSIP
        # a delegated interrupt is never taken in M-mode
        csrsi mstatus, MSTATUS_MIE
        SPIN s1, 1000
        csrci mstatus, MSTATUS_MIE
        # in S-mode with SIE = 0: not taken; setting SIE takes it at once
        li t0, SSTATUS_SIE
        csrc sstatus, t0
        GOTO_MODE PRV_S
        SPIN s1, 1000
        TRY_ARM 9f
        csrsi sstatus, SSTATUS_SIE
ssi_after_enable:
        nop
        TRY_DISARM
9:      CHECK_IRQ 29, IRQ_S_SOFT
        CHECK_RECORD 30, TR_TO, PRV_S
        CHECK_RECORD 31, TR_FROM, PRV_S
        CHECK_EPC 32, ssi_after_enable
        CHECK_CSR 33, scause, (1 << 63) | IRQ_S_SOFT
        li t0, MIP_SSIP                         # S clears its own SSIP
        csrc sip, t0
        CHECK_CSR_MASK 34, sip, MIP_SSIP, 0
        # S sets its own SSIP; from U it is taken even with SIE = 0
        li t0, MIP_SSIP
        csrs sie, t0
        csrs sip, t0
        li t0, SSTATUS_SPP                      # sret to U, armed before it:
        csrc sstatus, t0                        # the interrupt comes at once
        la t0, u_spin
        csrw sepc, t0
        TRY_ARM 10f
        sret
u_spin: SPIN s1, 1000
        TRY_DISARM
10:     GOTO_M
        CHECK_IRQ 35, IRQ_S_SOFT
        CHECK_RECORD 36, TR_FROM, PRV_U
        CHECK_RECORD 37, TR_TO, PRV_S
        CHECK_EPC 38, u_spin
        li t0, MIP_SSIP
        csrc mip, t0

        # ---- an S timer interrupt raised by M through mip.STIP
        li t0, MIP_STIP
        csrs mip, t0
        csrs mie, t0
        CHECK_CSR_MASK 39, sip, MIP_STIP, MIP_STIP
        li t0, SSTATUS_SIE
        csrc sstatus, t0
        GOTO_MODE PRV_S
        li t0, MIP_STIP                         # read-only for S
        csrc sip, t0
        CHECK_CSR_MASK 40, sip, MIP_STIP, MIP_STIP
        TRY_ARM 11f
        csrsi sstatus, SSTATUS_SIE
        SPIN s1, 1000
        TRY_DISARM
11:     GOTO_M
        CHECK_IRQ 41, IRQ_S_TIMER
        CHECK_RECORD 42, TR_TO, PRV_S
        li t0, MIP_STIP
        csrc mip, t0
        CHECK_CSR_MASK 43, mip, MIP_STIP, 0

        # ---- not delegated: a supervisor interrupt from S goes to M
        csrw mideleg, zero
        li t0, MIP_SSIP
        csrs mie, t0
        csrs mip, t0
        csrci mstatus, MSTATUS_MIE
        li t0, MSTATUS_MPP                      # mret to S, armed before it:
        csrc mstatus, t0                        # M interrupts are enabled below M
        li t0, PRV_S << 11
        csrs mstatus, t0
        la t0, s_spin
        csrw mepc, t0
        TRY_ARM 12f
        mret
s_spin: SPIN s1, 1000
        TRY_DISARM
12:     GOTO_M
        CHECK_IRQ 44, IRQ_S_SOFT
        CHECK_RECORD 45, TR_TO, PRV_M
        CHECK_RECORD 46, TR_FROM, PRV_S
        CHECK_RECORD 47, TR_CAUSE, (1 << 63) | IRQ_S_SOFT
        li t0, MIP_SSIP
        csrc mip, t0
        csrw mie, zero
        PASS

# Vectored-mode table: each entry leaves its index in sscratch (16 for the
# exception entry) and goes on to the common handler.
        .align 8
vector_table:
        j vec0
        .irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        j vec\i
        .endr
vec0:   csrwi sscratch, 16
        j m_trap_vector
        .irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
vec\i:  csrwi sscratch, \i
        j m_trap_vector
        .endr

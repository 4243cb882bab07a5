# CSR privilege and the mstatus trap-virtualisation bits: M-mode CSRs are
# illegal from S and U, S-mode CSRs from U; S-mode uses its own CSRs; an
# unimplemented CSR is illegal in every mode; MRET is illegal below M, SRET
# and SFENCE.VMA in U; mstatus.TVM makes satp and SFENCE.VMA illegal in S,
# mstatus.TSR makes SRET illegal in S (not in M), mstatus.TW makes WFI
# illegal in S; WFI in U is illegal (S-mode exists).
        .set FAIL_VIA_ECALL, 1
        .include "common.S"

# After TRY: illegal instruction with tval 0 or the instruction bits.
.macro CHECK_ILL n, bits
  CHECK_TRAP \n, CAUSE_ILLEGAL
  __CHECKNUM (\n + 1)
  beqz t6, .Lok\@
  li t5, \bits
  beq t6, t5, .Lok\@
  li a0, (\n + 1)
  j fail
.Lok\@:
.endm

test_main:
        # ---- S-mode: M CSRs trap, S CSRs work
        GOTO_MODE PRV_S
        TRY csrr a0, mstatus
        CHECK_ILL 1, 0x30002573
        TRY csrw mscratch, zero
        CHECK_ILL 3, 0x34001073
        TRY csrr a0, mepc
        CHECK_TRAP 5, CAUSE_ILLEGAL
        TRY csrr a0, medeleg
        CHECK_TRAP 6, CAUSE_ILLEGAL
        TRY csrr a0, mhartid                    # even reading an M read-only CSR
        CHECK_TRAP 7, CAUSE_ILLEGAL
        TRY csrr a0, pmpcfg0
        CHECK_TRAP 8, CAUSE_ILLEGAL
        TRY csrr a0, mtvec
        CHECK_TRAP 9, CAUSE_ILLEGAL
        TRY csrr a0, 0x7ff                      # unimplemented
        CHECK_TRAP 10, CAUSE_ILLEGAL
        TRY mret
        CHECK_ILL 11, 0x30200073
        li a1, 0x1234
        csrw sscratch, a1
        csrr a0, sscratch
        CHECK 13, a0, 0x1234
        csrr a0, sstatus                        # S CSRs: no trap
        csrr a0, stvec
        csrr a0, satp
        csrw satp, zero
        sfence.vma
        GOTO_M
        CHECK_RECORD 14, TR_FROM, PRV_S

        # ---- U-mode: S and M CSRs, xRET, SFENCE.VMA, WFI trap
        GOTO_MODE PRV_U
        TRY csrr a0, sstatus
        CHECK_ILL 15, 0x10002573
        TRY csrw sscratch, a1
        CHECK_TRAP 17, CAUSE_ILLEGAL
        TRY csrr a0, satp
        CHECK_TRAP 18, CAUSE_ILLEGAL
        TRY csrr a0, mstatus
        CHECK_TRAP 19, CAUSE_ILLEGAL
        TRY sret
        CHECK_ILL 20, 0x10200073
        TRY mret
        CHECK_TRAP 22, CAUSE_ILLEGAL
        TRY sfence.vma
        CHECK_ILL 23, 0x12000073
        TRY wfi
        CHECK_ILL 25, 0x10500073
        TRY csrr a0, 0x8ff                      # unimplemented U-level number
        CHECK_TRAP 27, CAUSE_ILLEGAL
        GOTO_M
        CHECK_RECORD 28, TR_FROM, PRV_U

        # ---- mstatus.TVM: satp and SFENCE.VMA illegal in S
        li t0, MSTATUS_TVM
        csrs mstatus, t0
        csrr a0, satp                           # M-mode is not affected
        sfence.vma
        GOTO_MODE PRV_S
        TRY csrr a0, satp
        CHECK_ILL 29, 0x18002573
        TRY csrw satp, zero
        CHECK_TRAP 31, CAUSE_ILLEGAL
        TRY sfence.vma
        CHECK_ILL 32, 0x12000073
        TRY sfence.vma a0, a1
        CHECK_TRAP 34, CAUSE_ILLEGAL
        csrr a0, sscratch                       # other S CSRs still work
        GOTO_M
        li t0, MSTATUS_TVM
        csrc mstatus, t0
        GOTO_MODE PRV_S
        TRY csrr a0, satp
        CHECK_NO_TRAP 35
        TRY sfence.vma
        CHECK_NO_TRAP 36
        GOTO_M

        # ---- mstatus.TSR: SRET illegal in S, still fine in M
        li t0, MSTATUS_TSR
        csrs mstatus, t0
        GOTO_MODE PRV_S
        li t0, SSTATUS_SPP                      # an SRET that would stay in S
        csrs sstatus, t0
        la t0, 1f
        csrw sepc, t0
        TRY sret
        CHECK_ILL 37, 0x10200073
        GOTO_M
        li t0, SSTATUS_SPP
        csrs sstatus, t0
        la t0, 2f
        csrw sepc, t0
        sret                                    # M-mode: allowed with TSR = 1
        FAIL_NOW 39
1:      FAIL_NOW 40
2:      TRY csrr a0, mstatus                    # in S now
        GOTO_M
        CHECK_TRAP 41, CAUSE_ILLEGAL
        CHECK_RECORD 42, TR_FROM, PRV_S
        li t0, MSTATUS_TSR
        csrc mstatus, t0
        GOTO_MODE PRV_S
        SRET_TO PRV_S                           # TSR = 0: allowed in S
        TRY csrr a0, mstatus
        GOTO_M
        CHECK_TRAP 43, CAUSE_ILLEGAL
        CHECK_RECORD 44, TR_FROM, PRV_S

        # ---- mstatus.TW: WFI illegal in S (no interrupt could end it here)
        li t0, MSTATUS_TW
        csrs mstatus, t0
        GOTO_MODE PRV_S
        TRY wfi
        CHECK_ILL 45, 0x10500073
        GOTO_M
        CHECK_RECORD 47, TR_FROM, PRV_S
        csrci mstatus, MSTATUS_MIE              # M-mode is not affected by TW: with a
        li t0, MIP_MSIP                         # software interrupt pending (disabled
        csrs mie, t0                            # globally) WFI returns at once
        li t1, CLINT_MSIP
        li t2, 1
        sw t2, 0(t1)
        wfi
        sw zero, 0(t1)
        csrc mie, t0
        li t0, MSTATUS_TW
        csrc mstatus, t0
        CHECK_CSR_MASK 48, mip, MIP_MSIP, 0
        PASS

# Privileged traps: ECALL from U/S/M (causes 8/9/11, epc, tval 0); EBREAK;
# delegation through medeleg to S-mode (ecall, illegal instruction, access
# fault; traps from M are never delegated; an undelegated cause still goes
# to M); the mstatus stack on trap entry (xPIE <- xIE, xIE <- 0, xPP <- the
# previous mode) and on MRET/SRET (xIE <- xPIE, xPIE <- 1, xPP <- U, MPRV
# cleared when leaving M); mtval/stval for illegal instructions and for load,
# store and fetch access faults.
        .set FAIL_VIA_ECALL, 1
        .include "common.S"

        .equ NOWHERE, 0x90000000                # no memory or device here

# After TRY on an illegal instruction: tval is 0 or the instruction bits.
.macro CHECK_TVAL_INSN n, bits
  __CHECKNUM \n
  beqz t6, .Lok\@
  li t5, \bits
  beq t6, t5, .Lok\@
  li a0, \n
  j fail
.Lok\@:
.endm

test_main:
        li a7, 0
        # ---- ECALL from each mode, taken in M
        TRY_ARM 1f
ecall_m:
        ecall
        TRY_DISARM
1:      CHECK_TRAP 1, CAUSE_ECALL_M
        CHECK_TVAL 2, 0
        CHECK_EPC 3, ecall_m
        CHECK_RECORD 4, TR_FROM, PRV_M
        CHECK_RECORD 5, TR_TO, PRV_M
        CHECK_CSR 6, mcause, CAUSE_ECALL_M

        GOTO_MODE PRV_S
        TRY_ARM 2f
ecall_s:
        ecall
        TRY_DISARM
2:      GOTO_M
        CHECK_TRAP 7, CAUSE_ECALL_S
        CHECK_TVAL 8, 0
        CHECK_EPC 9, ecall_s
        CHECK_RECORD 10, TR_FROM, PRV_S
        CHECK_RECORD 11, TR_TO, PRV_M

        GOTO_MODE PRV_U
        TRY_ARM 3f
ecall_u:
        ecall
        TRY_DISARM
3:      GOTO_M
        CHECK_TRAP 12, CAUSE_ECALL_U
        CHECK_EPC 13, ecall_u
        CHECK_RECORD 14, TR_FROM, PRV_U
        CHECK_RECORD 15, TR_TO, PRV_M

        # ---- EBREAK: cause 3, epc = the ebreak; tval 0 or its address
        TRY_ARM 4f
ebreak_m:
        ebreak
        TRY_DISARM
4:      CHECK_TRAP 16, CAUSE_BREAKPOINT
        CHECK_EPC 17, ebreak_m
        __CHECKNUM 18
        beqz t6, 5f
        la t5, ebreak_m
        beq t6, t5, 5f
        li a0, 18
        j fail
5:
        # ---- trap entry pushes the interrupt-enable stack (S -> M)
        li t0, MSTATUS_MPIE                     # mret into S makes MIE = 1
        csrs mstatus, t0
        GOTO_MODE PRV_S
        TRY_ARM 6f
ill_s:  csrr a0, mstatus                        # M-mode CSR from S: illegal
        TRY_DISARM
6:      GOTO_M
        CHECK_TRAP 19, CAUSE_ILLEGAL
        CHECK_TVAL_INSN 20, 0x30002573
        CHECK_EPC 21, ill_s
        CHECK_RECORD_MASK 22, TR_STATUS, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MPIE | (PRV_S << 11)
        csrci mstatus, MSTATUS_MIE

        # ---- delegation: ecall from U to S
        li t0, 1 << CAUSE_ECALL_U
        csrw medeleg, t0
        CHECK_CSR 23, medeleg, 1 << CAUSE_ECALL_U
        li t0, SSTATUS_SIE                      # SIE = 1 while in U: SPIE captures it
        csrs sstatus, t0
        GOTO_MODE PRV_U
        TRY_ARM 7f
ecall_u2:
        ecall
        TRY_DISARM
7:      GOTO_M                                  # (the S handler passes this one to M)
        CHECK_TRAP 24, CAUSE_ECALL_U
        CHECK_EPC 25, ecall_u2
        CHECK_RECORD 26, TR_TO, PRV_S
        CHECK_RECORD 27, TR_FROM, PRV_U
        CHECK_RECORD_MASK 28, TR_STATUS, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP, SSTATUS_SPIE
        # an ecall from S is not delegated by bit 8
        GOTO_MODE PRV_S
        TRY ecall
        GOTO_M
        CHECK_TRAP 29, CAUSE_ECALL_S
        CHECK_RECORD 30, TR_TO, PRV_M
        # traps taken in M are never delegated, whatever medeleg says
        li t0, (1 << CAUSE_ECALL_M) | (1 << CAUSE_ILLEGAL) | (1 << CAUSE_ECALL_U)
        csrw medeleg, t0
        TRY ecall
        CHECK_TRAP 31, CAUSE_ECALL_M
        CHECK_RECORD 32, TR_TO, PRV_M
        TRY csrr a0, 0x7ff
        CHECK_TRAP 33, CAUSE_ILLEGAL
        CHECK_RECORD 34, TR_TO, PRV_M
        # illegal instruction delegated: from U and from S, tval as for M
        GOTO_MODE PRV_U
        TRY_ARM 8f
ill_u:  csrr a0, sstatus                        # S-mode CSR from U: illegal
        TRY_DISARM
8:      GOTO_M
        CHECK_TRAP 35, CAUSE_ILLEGAL
        CHECK_TVAL_INSN 36, 0x10002573
        CHECK_EPC 37, ill_u
        CHECK_RECORD 38, TR_TO, PRV_S
        CHECK_RECORD 39, TR_FROM, PRV_U
        GOTO_MODE PRV_S
        TRY_ARM 9f
ill_s2: .word 0                                 # the all-zero instruction is illegal
        TRY_DISARM
9:      GOTO_M
        CHECK_TRAP 40, CAUSE_ILLEGAL
        CHECK_TVAL 41, 0
        CHECK_EPC 42, ill_s2
        CHECK_RECORD 43, TR_TO, PRV_S
        CHECK_RECORD 44, TR_FROM, PRV_S
        CHECK_CSR 45, scause, CAUSE_ILLEGAL     # the S-mode trap CSRs
        csrw medeleg, zero

        # ---- MRET: MIE <- MPIE, MPIE <- 1, MPP <- U
        li t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
        csrc mstatus, t0
        li t0, MSTATUS_MPP                      # MPP = M, MPIE = 0
        csrs mstatus, t0
        la t0, 10f
        csrw mepc, t0
        mret
        FAIL_NOW 46
10:     CHECK_CSR_MASK 47, mstatus, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MPIE
        li t0, MSTATUS_MPP | MSTATUS_MPIE
        csrs mstatus, t0
        la t0, 11f
        csrw mepc, t0
        mret
        FAIL_NOW 48
11:     CHECK_CSR_MASK 49, mstatus, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MIE | MSTATUS_MPIE
        csrci mstatus, MSTATUS_MIE
        # MRET to a lower mode clears MPRV (priv. spec 1.12; QEMU 7.2 keeps
        # it, which QEMU_QUIRKS accepts); MRET to M keeps it
        li t0, MSTATUS_MPRV
        csrs mstatus, t0
        GOTO_MODE PRV_U
        GOTO_M
        csrr a0, mstatus
        li t0, MSTATUS_MPRV
        csrc mstatus, t0
        and a0, a0, t0
.ifdef QEMU_QUIRKS
        li a0, 0
.endif
        CHECK 50, a0, 0
        li t0, MSTATUS_MPRV | MSTATUS_MPP
        csrs mstatus, t0
        la t0, 12f
        csrw mepc, t0
        mret
12:     csrr a0, mstatus
        li t0, MSTATUS_MPRV
        csrc mstatus, t0
        and a0, a0, t0
        CHECK 51, a0, MSTATUS_MPRV

        # ---- SRET (from M into S): SIE <- SPIE, SPIE <- 1, SPP <- U
        li t0, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP
        csrc sstatus, t0
        li t0, SSTATUS_SPIE | SSTATUS_SPP
        csrs sstatus, t0
        la t0, 13f
        csrw sepc, t0
        sret
        FAIL_NOW 52
13:     TRY csrr a0, mstatus                    # now in S: this traps
        GOTO_M
        CHECK_TRAP 53, CAUSE_ILLEGAL
        CHECK_RECORD 54, TR_FROM, PRV_S
        CHECK_CSR_MASK 55, mstatus, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP, SSTATUS_SIE | SSTATUS_SPIE
        # SRET to a mode below M clears MPRV too (the same QEMU 7.2 exception)
        li t0, SSTATUS_SPP
        csrs sstatus, t0
        li t0, MSTATUS_MPRV
        csrs mstatus, t0
        la t0, 14f
        csrw sepc, t0
        sret
14:     GOTO_M
        csrr a0, mstatus
        li t0, MSTATUS_MPRV
        csrc mstatus, t0
        and a0, a0, t0
.ifdef QEMU_QUIRKS
        li a0, 0
.endif
        CHECK 56, a0, 0
        # SRET from S into U, with SPIE = 0
        li t0, SSTATUS_SIE | SSTATUS_SPIE
        csrc sstatus, t0
        GOTO_MODE PRV_S
        SRET_TO PRV_U
        TRY csrr a0, sstatus
        GOTO_M
        CHECK_TRAP 57, CAUSE_ILLEGAL
        CHECK_RECORD 58, TR_FROM, PRV_U
        CHECK_CSR_MASK 59, mstatus, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP, SSTATUS_SPIE

        # ---- access faults: nothing at NOWHERE; tval = the address
        li s0, NOWHERE
        EXPECT_TRAP 60, CAUSE_LOAD_ACCESS, ld a0, 16(s0)
        CHECK_TVAL 61, NOWHERE + 16
        EXPECT_TRAP 62, CAUSE_STORE_ACCESS, sw a0, 4(s0)
        CHECK_TVAL 63, NOWHERE + 4
        EXPECT_TRAP 64, CAUSE_LOAD_ACCESS, lbu a0, 3(s0)
        CHECK_TVAL 65, NOWHERE + 3
        li a0, 0
        TRY jalr ra, 0(s0)                      # fetch: epc and tval = the target
        CHECK_TRAP 66, CAUSE_FETCH_ACCESS
        CHECK_TVAL 67, NOWHERE
        CHECK_RECORD 68, TR_EPC, NOWHERE
        # delegated: from U, taken in S
        li t0, (1 << CAUSE_LOAD_ACCESS) | (1 << CAUSE_STORE_ACCESS) | (1 << CAUSE_FETCH_ACCESS)
        csrw medeleg, t0
        GOTO_MODE PRV_U
        TRY ld a0, 8(s0)
        mv s1, t5
        mv s2, t6
        TRY sd a0, 0(s0)
        mv s3, t5
        mv s4, t6
        TRY jalr ra, 0(s0)
        GOTO_M
        CHECK_TRAP 69, CAUSE_FETCH_ACCESS
        CHECK_TVAL 70, NOWHERE
        CHECK_RECORD 71, TR_TO, PRV_S
        CHECK_CSR 72, scause, CAUSE_FETCH_ACCESS
        CHECK_CSR 73, stval, NOWHERE
        CHECK_RECORD 74, TR_EPC, NOWHERE         # (sepc itself was reused to resume)
        CHECK 75, s1, CAUSE_LOAD_ACCESS
        CHECK 76, s2, NOWHERE + 8
        CHECK 77, s3, CAUSE_STORE_ACCESS
        CHECK 78, s4, NOWHERE
        csrw medeleg, zero
        PASS

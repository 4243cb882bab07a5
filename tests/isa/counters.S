# Counters: time advances and follows the CLINT's mtime; cycle and instret
# (and mcycle/minstret) advance; minstret and mcycle are writable in M;
# cycle/time/instret are read-only; mcounteren gates S- and U-mode reads and
# scounteren additionally gates U-mode reads (illegal instruction when a bit
# is clear); scounteren is an S-mode CSR, mcounteren an M-mode one.
        .set FAIL_VIA_ECALL, 1
        .include "common.S"

.macro SPIN reg, count
  li \reg, \count
.Lspin\@:
  addi \reg, \reg, -1
  bnez \reg, .Lspin\@
.endm

test_main:
        li s10, CLINT_MTIME
        # ---- M-mode reads
        rdtime a0
        SPIN s1, 100000
        rdtime a1
        sltu a2, a0, a1
        CHECK 1, a2, 1                          # time advances
        ld a0, 0(s10)
        rdtime a1
        ld a2, 0(s10)
        sltu a3, a1, a0
        CHECK 2, a3, 0                          # mtime before <= time ...
        sltu a3, a2, a1
        CHECK 3, a3, 0                          # ... <= mtime after
        rdcycle a0
        SPIN s1, 1000
        rdcycle a1
        sltu a2, a0, a1
        CHECK 4, a2, 1
        rdinstret a0
        SPIN s1, 1000
        rdinstret a1
        sltu a2, a0, a1
        CHECK 5, a2, 1
        csrr a0, mcycle
        csrr a1, minstret
        SPIN s1, 1000
        csrr a2, mcycle
        csrr a3, minstret
        sltu a4, a0, a2
        CHECK 6, a4, 1
        sltu a4, a1, a3
        CHECK 7, a4, 1
        li s2, 1000000000
        csrw minstret, s2
        csrr a0, minstret
        rdinstret a1
        sub a0, a0, s2
        srli a0, a0, 32
        CHECK 8, a0, 0                          # counts on from the written value
        sub a1, a1, s2
        srli a1, a1, 32
        CHECK 9, a1, 0
        csrw mcycle, s2
        csrr a0, mcycle
        sub a0, a0, s2
        srli a0, a0, 32
        CHECK 10, a0, 0
        # the user-level counter CSRs are read-only
        TRY csrw cycle, zero
        CHECK_TRAP 11, CAUSE_ILLEGAL
        TRY csrw time, zero
        CHECK_TRAP 12, CAUSE_ILLEGAL
        TRY csrs instret, s2
        CHECK_TRAP 13, CAUSE_ILLEGAL

        # ---- mcounteren = 0: S-mode and U-mode reads trap
        csrw mcounteren, zero
        csrw scounteren, zero
        GOTO_MODE PRV_S
        TRY rdcycle a0
        CHECK_TRAP 14, CAUSE_ILLEGAL
        TRY rdtime a0
        CHECK_TRAP 15, CAUSE_ILLEGAL
        TRY rdinstret a0
        CHECK_TRAP 16, CAUSE_ILLEGAL
        csrw scounteren, zero                   # an S-mode CSR
        TRY csrw mcounteren, zero               # an M-mode one
        CHECK_TRAP 17, CAUSE_ILLEGAL
        GOTO_M
        GOTO_MODE PRV_U
        TRY rdtime a0
        CHECK_TRAP 18, CAUSE_ILLEGAL
        TRY csrr a0, scounteren
        CHECK_TRAP 19, CAUSE_ILLEGAL
        GOTO_M

        # ---- mcounteren = CY | TM | IR: S reads them; U still needs scounteren
        li t0, 7
        csrw mcounteren, t0
        CHECK_CSR_MASK 20, mcounteren, 7, 7
        GOTO_MODE PRV_S
        TRY rdcycle a0
        CHECK_NO_TRAP 21
        TRY rdinstret a0
        CHECK_NO_TRAP 22
        rdtime a0
        SPIN s1, 100000
        rdtime a1
        sltu a2, a0, a1
        CHECK 23, a2, 1
        GOTO_M
        GOTO_MODE PRV_U
        TRY rdtime a0
        CHECK_TRAP 24, CAUSE_ILLEGAL
        TRY rdcycle a0
        CHECK_TRAP 25, CAUSE_ILLEGAL
        GOTO_M
        # scounteren = TM: U reads time only
        li t0, 2
        csrw scounteren, t0
        GOTO_MODE PRV_U
        TRY rdtime a0
        CHECK_NO_TRAP 26
        TRY rdcycle a0
        CHECK_TRAP 27, CAUSE_ILLEGAL
        TRY rdinstret a0
        CHECK_TRAP 28, CAUSE_ILLEGAL
        rdtime a0
        SPIN s1, 100000
        rdtime a1
        sltu a2, a0, a1
        CHECK 29, a2, 1
        TRY csrw time, zero                     # still read-only
        CHECK_TRAP 30, CAUSE_ILLEGAL
        GOTO_M
        # mcounteren.TM clear blocks U even with scounteren.TM set
        li t0, 5
        csrw mcounteren, t0
        li t0, 7
        csrw scounteren, t0
        GOTO_MODE PRV_U
        TRY rdtime a0
        CHECK_TRAP 31, CAUSE_ILLEGAL
        TRY rdcycle a0
        CHECK_NO_TRAP 32
        TRY rdinstret a0
        CHECK_NO_TRAP 33
        GOTO_M
        GOTO_MODE PRV_S
        TRY rdtime a0
        CHECK_TRAP 34, CAUSE_ILLEGAL
        GOTO_M
        PASS

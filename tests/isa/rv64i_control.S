# RV64I control transfer: every branch condition taken and not taken
# (signed and unsigned orderings, equal operands), forward, backward and
# long branches; JAL and JALR link values, targets, JALR clearing the lowest
# bit of the target, and rd = rs1.
        .include "common.S"

.macro TAKEN n, op, a, b
  li a1, \a
  li a2, \b
  \op a1, a2, .Lt\@
  FAIL_NOW \n
.Lt\@:
.endm
.macro NOT_TAKEN n, op, a, b
  li a1, \a
  li a2, \b
  \op a1, a2, .Lbad\@
  j .Lok\@
.Lbad\@:
  FAIL_NOW \n
.Lok\@:
.endm

test_main:
        TAKEN      1, beq, 5, 5
        NOT_TAKEN  2, beq, 5, 6
        NOT_TAKEN  3, beq, 0x100000005, 5            # all 64 bits compared
        TAKEN      4, bne, 0x100000005, 5
        NOT_TAKEN  5, bne, -1, -1
        TAKEN      6, blt, -1, 0
        NOT_TAKEN  7, blt, 0, -1
        NOT_TAKEN  8, blt, 3, 3
        TAKEN      9, blt, 0x8000000000000000, 0x7fffffffffffffff
        TAKEN     10, bge, 0, -1
        TAKEN     11, bge, 3, 3
        NOT_TAKEN 12, bge, -1, 0
        NOT_TAKEN 13, bge, 0x8000000000000000, 1
        TAKEN     14, bltu, 0, -1
        NOT_TAKEN 15, bltu, -1, 0
        NOT_TAKEN 16, bltu, 3, 3
        TAKEN     17, bltu, 0x7fffffffffffffff, 0x8000000000000000
        TAKEN     18, bgeu, -1, 0
        TAKEN     19, bgeu, 3, 3
        NOT_TAKEN 20, bgeu, 0, -1
        NOT_TAKEN 21, bgeu, 0x7fffffffffffffff, 0x8000000000000000
        # pseudo-instructions with x0: beqz/bnez/bltz/bgez/blez/bgtz
        li a1, -3
        bltz a1, 1f
        FAIL_NOW 22
1:      bgez a1, 2f
        j 3f
2:      FAIL_NOW 23
3:      blez zero, 4f
        FAIL_NOW 24
4:      bgtz zero, 5f
        j 6f
5:      FAIL_NOW 25
6:
        # backward branch: a counted loop
        li a0, 0
        li a1, 10
7:      addi a0, a0, 3
        addi a1, a1, -1
        bnez a1, 7b
        CHECK 26, a0, 30

        # branches near the +-4 KiB limit of the 13-bit offset
        li a1, 1
        bnez a1, far_fwd
        FAIL_NOW 27
        .fill 1020, 4, 0x00000013           # nop
far_fwd:
        j far_back_start
far_back:
        j far_back_done
        .fill 1020, 4, 0x00000013
far_back_start:
        bnez a1, far_back
        FAIL_NOW 28
far_back_done:

        # JAL: link = address of the next instruction, pc-relative target.
        jal ra, jal_target
jal_link:
        FAIL_NOW 29
jal_target:
        la a1, jal_link
        CHECK_REG 30, ra, a1
        jal x0, 1f                          # j: no link
        FAIL_NOW 31
1:
        # a long JAL (beyond the branch range) forward and back
        jal a3, jal_far
jal_far_link:
        j jal_far_done
        .fill 4096, 4, 0x00000013
jal_far:
        la a1, jal_far_link
        CHECK_REG 32, a3, a1
jal_far_call:
        jal a4, jal_far_link                # backward
jal_far_done:
        la a1, jal_far_call + 4
        CHECK_REG 33, a4, a1

        # JALR: target = (rs1 + imm) & ~1, link = pc + 4.
        la a1, jalr_t1
        jalr ra, 0(a1)
jalr_l1:
        FAIL_NOW 34
jalr_t1:
        la a2, jalr_l1
        CHECK_REG 35, ra, a2
        la a1, jalr_t2 - 8
        jalr t0, 8(a1)                      # positive offset
        FAIL_NOW 36
jalr_t2:
        la a1, jalr_t3 + 100
        jalr t0, -100(a1)                   # negative offset
        FAIL_NOW 37
jalr_t3:
        la a1, jalr_t4
        jalr t0, 1(a1)                      # odd target: bit 0 is cleared
        FAIL_NOW 38
jalr_t4:
        la a1, jalr_t5 + 1
        jalr t0, 0(a1)                      # odd base
        FAIL_NOW 39
jalr_t5:
        la a1, jalr_t6 - 1
        jalr t0, 2(a1)                      # base-1 + 2 = target + 1, cleared to target
        FAIL_NOW 40
jalr_t6:
        la a1, jalr_t7
        jalr a1, 0(a1)                      # rd = rs1: target uses the old value
jalr_l7:
        FAIL_NOW 41
jalr_t7:
        la a2, jalr_l7
        CHECK_REG 42, a1, a2
        # jalr x0 (jr / ret) does not link
        li a5, 0x5a
        la a1, jalr_t8
        jalr x0, 0(a1)
        FAIL_NOW 43
jalr_t8:
        CHECK 44, a5, 0x5a
        # call/return through a subroutine
        li a0, 0
        jal ra, add_seven
        jal ra, add_seven
        CHECK 45, a0, 14
        PASS

add_seven:
        addi a0, a0, 7
        ret

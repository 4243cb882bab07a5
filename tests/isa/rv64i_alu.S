# RV64I integer computation: register-register and register-immediate
# arithmetic, logic, comparisons, shifts (with shift-amount masking), the
# 32-bit W forms with their sign extension, LUI, AUIPC and writes to x0.
        .include "common.S"

# a0 = a1 op a2
.macro RR n, op, a, b, expect
  li a1, \a
  li a2, \b
  \op a0, a1, a2
  CHECK \n, a0, \expect
.endm
# a0 = a1 op imm
.macro RI n, op, a, imm, expect
  li a1, \a
  \op a0, a1, \imm
  CHECK \n, a0, \expect
.endm

test_main:
        # ADD / ADDI / SUB: 64-bit wrap-around, sign-extended 12-bit immediates.
        RR  1, add, 1, 2, 3
        RR  2, add, 0x7fffffffffffffff, 1, 0x8000000000000000
        RR  3, add, -1, 1, 0
        RR  4, add, 0xffffffff, 1, 0x100000000
        RI  5, addi, 0, -2048, 0xfffffffffffff800
        RI  6, addi, 5, 2047, 2052
        RI  7, addi, 0x7fffffffffffffff, 1, 0x8000000000000000
        RR  8, sub, 0, 1, 0xffffffffffffffff
        RR  9, sub, 0x8000000000000000, 1, 0x7fffffffffffffff
        RR 10, sub, 3, 7, -4

        # ADDW / ADDIW / SUBW: operate on the low 32 bits, sign-extend the result.
        RR 11, addw, 0x7fffffff, 1, 0xffffffff80000000
        RR 12, addw, 0x100000005, 0x200000003, 8
        RR 13, addw, 0xffffffff, 1, 0
        RI 14, addiw, 0x7fffffff, 1, 0xffffffff80000000
        RI 15, addiw, 0x1ffffffff, 0, 0xffffffffffffffff      # sext.w
        RI 16, addiw, 0x123456789, -1, 0x23456788
        RR 17, subw, 0, 0x80000000, 0xffffffff80000000
        RR 18, subw, 0x100000000, 1, 0xffffffffffffffff
        RR 19, subw, 0xffffffff00000003, 0x0000000100000001, 2

        # SLT / SLTU / SLTI / SLTIU.
        RR 20, slt, -1, 1, 1
        RR 21, sltu, -1, 1, 0
        RR 22, slt, 1, -1, 0
        RR 23, sltu, 1, -1, 1
        RR 24, slt, 5, 5, 0
        RR 25, slt, 0x8000000000000000, 0x7fffffffffffffff, 1
        RI 26, slti, -5, -4, 1
        RI 27, slti, -4, -5, 0
        RI 28, sltiu, 0, 1, 1                   # seqz
        RI 29, sltiu, 7, 1, 0
        RI 30, sltiu, 0xfffffffffffffffe, -1, 1 # immediate sign-extends, then compares unsigned
        RI 31, sltiu, 0xffffffffffffffff, -1, 0
        RR 32, sltu, 0, 0, 0
        li a2, 9
        sltu a0, zero, a2                       # snez
        CHECK 33, a0, 1

        # AND / OR / XOR and immediate forms (sign-extended immediates).
        RR 34, and, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x0f000f000f000f00
        RR 35, or,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xfff0fff0fff0fff0
        RR 36, xor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xf0f0f0f0f0f0f0f0
        RI 37, andi, 0x123456789abcdef0, -1, 0x123456789abcdef0
        RI 38, andi, 0x123456789abcdef0, 0x7f0, 0x6f0
        RI 39, ori, 0x1200000000000000, -2048, 0xfffffffffffff800
        RI 40, ori, 0x1200000000000000, 0x0f, 0x120000000000000f
        RI 41, xori, 0x00ff00ff00ff00ff, -1, 0xff00ff00ff00ff00     # not
        RI 42, xori, 0x00ff00ff00ff00ff, 0x70f, 0x00ff00ff00ff07f0

        # SLL / SRL / SRA: amount is rs2[5:0].
        RR 43, sll, 1, 63, 0x8000000000000000
        RR 44, sll, 1, 64, 1
        RR 45, sll, 1, 65, 2
        RR 46, sll, 0x8000000000000001, 0xffffffffffffffc4, 0x10             # amount 4
        RR 47, srl, 0x8000000000000000, 63, 1
        RR 48, srl, 0x8000000000000000, 0xfc0, 0x8000000000000000              # amount 0
        RR 49, srl, 0xf000000000000000, 4, 0x0f00000000000000
        RR 50, sra, 0x8000000000000000, 63, 0xffffffffffffffff
        RR 51, sra, 0xf000000000000000, 4, 0xff00000000000000
        RR 52, sra, 0x7000000000000000, 0x7c, 7                # amount 60 -> 7
        RR 53, sra, 0x7000000000000000, 0x43, 0x0e00000000000000                # amount 3
        RI 54, slli, 0x0123456789abcdef, 4, 0x123456789abcdef0
        RI 55, slli, 1, 63, 0x8000000000000000
        RI 56, srli, 0x8000000000000000, 32, 0x80000000
        RI 57, srli, 0xffffffffffffffff, 63, 1
        RI 58, srai, 0x8000000000000000, 32, 0xffffffff80000000
        RI 59, srai, 0x8000000000000000, 0, 0x8000000000000000
        RI 60, srai, 0x4000000000000000, 62, 1

        # W shifts: low 32 bits, amount rs2[4:0], result sign-extended.
        RR 61, sllw, 1, 31, 0xffffffff80000000
        RR 62, sllw, 1, 32, 1                                # amount 0
        RR 63, sllw, 1, 33, 2
        RR 64, sllw, 0xffffffff00000003, 1, 6
        RR 65, srlw, 0xffffffff80000000, 31, 1
        RR 66, srlw, 0x0000000080000000, 0, 0xffffffff80000000    # amount 0 still sign-extends
        RR 67, srlw, 0x0000000080000000, 1, 0x40000000
        RR 68, srlw, 0x12345678ffffffff, 36, 0x0fffffff          # amount 4
        RR 69, sraw, 0x0000000080000000, 4, 0xfffffffff8000000
        RR 70, sraw, 0x000000017fffffff, 0, 0x7fffffff
        RR 71, sraw, 0xffffffff7fffffff, 35, 0x0fffffff          # amount 3
        RI 72, slliw, 0x12345678, 4, 0x23456780
        RI 73, slliw, 0x1, 31, 0xffffffff80000000
        RI 74, slliw, 0xfffffffffffffffd, 0, 0xfffffffffffffffd
        RI 75, srliw, 0x0000000080000000, 31, 1
        RI 76, srliw, 0xffffffff80000000, 0, 0xffffffff80000000
        RI 77, srliw, 0xfffffffff0000000, 28, 0xf
        RI 78, sraiw, 0x0000000080000000, 31, 0xffffffffffffffff
        RI 79, sraiw, 0x1234567880000000, 4, 0xfffffffff8000000
        RI 80, sraiw, 0x000000007ffffff0, 4, 0x07ffffff

        # LUI sign-extends bit 31 into the upper half on RV64.
        lui a0, 0x80000
        CHECK 81, a0, 0xffffffff80000000
        lui a0, 0x7ffff
        CHECK 82, a0, 0x7ffff000
        lui a0, 0xfffff
        CHECK 83, a0, 0xfffffffffffff000
        lui a0, 0x12345
        addi a0, a0, 0x678
        CHECK 84, a0, 0x12345678

        # AUIPC: pc of the auipc itself plus the sign-extended upper immediate.
auipc0: auipc a0, 0
        la a1, auipc0
        CHECK_REG 85, a0, a1
auipc1: auipc a0, 1
        la a1, auipc1
        sub a0, a0, a1
        CHECK 86, a0, 0x1000
auipc2: auipc a0, 0x80000                      # pc - 2 GiB
        la a1, auipc2
        sub a0, a0, a1
        CHECK 87, a0, 0xffffffff80000000
auipc3: auipc a0, 0xfffff
        la a1, auipc3
        sub a0, a0, a1
        CHECK 88, a0, -0x1000

        # x0 ignores writes; instructions with rd = rs.
        addi x0, x0, 5
        lui x0, 0x12345
        add a0, x0, x0
        CHECK 89, a0, 0
        li a0, 10
        add a0, a0, a0
        CHECK 90, a0, 20
        li a0, 0x40
        srl a0, a0, a0                      # amount 0x40 & 63 = 0
        CHECK 91, a0, 0x40
        li a0, 0x123
        subw a0, a0, a0
        CHECK 92, a0, 0
        # source register overwritten by the same instruction
        li a1, 7
        li a2, 5
        sub a2, a1, a2
        CHECK 93, a2, 2
        nop
        PASS

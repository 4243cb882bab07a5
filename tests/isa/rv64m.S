# M extension: MUL/MULH/MULHSU/MULHU/MULW, DIV/DIVU/REM/REMU and the W
# forms, with rounding toward zero, sign of the remainder, division by zero
# (quotient all ones, remainder = dividend) and signed overflow (quotient =
# dividend, remainder 0), and the sign extension of every W result.
        .include "common.S"

.macro RR n, op, a, b, expect
  li a1, \a
  li a2, \b
  \op a0, a1, a2
  CHECK \n, a0, \expect
.endm

test_main:
        # multiplication, low half
        RR  1, mul, 6, 7, 42
        RR  2, mul, -6, 7, -42
        RR  3, mul, 0x100000000, 0x100000000, 0          # 2^64 wraps
        RR  4, mul, 0x0123456789abcdef, 0x10, 0x123456789abcdef0
        RR  5, mul, -1, -1, 1
        RR  6, mul, 0x8000000000000000, -1, 0x8000000000000000
        # high halves
        RR  7, mulh,   -1, -1, 0
        RR  8, mulhu,  -1, -1, 0xfffffffffffffffe
        RR  9, mulhsu, -1, -1, 0xffffffffffffffff
        RR 10, mulh,   0x8000000000000000, 0x8000000000000000, 0x4000000000000000
        RR 11, mulhu,  0x8000000000000000, 0x8000000000000000, 0x4000000000000000
        RR 12, mulhsu, 0x8000000000000000, 0x8000000000000000, 0xc000000000000000
        RR 13, mulh,   0x7fffffffffffffff, 2, 0
        RR 14, mulh,   -2, 0x7fffffffffffffff, 0xffffffffffffffff
        RR 15, mulhu,  0x0123456789abcdef, 0xfedcba9876543210, 0x0121fa00ad77d742
        RR 16, mulh,   0x0123456789abcdef, 0xfedcba9876543210, 0xfffeb49923cc0953
        RR 17, mulhsu, 0x0123456789abcdef, 0xfedcba9876543210, 0x0121fa00ad77d742
        RR 18, mulhsu, 0xfedcba9876543210, 0x0123456789abcdef, 0xfffeb49923cc0953
        RR 19, mulhsu, 3, 0xffffffffffffffff, 2
        RR 20, mulh,   3, 0xffffffffffffffff, 0xffffffffffffffff
        # MULW: low 32 bits of the product, sign-extended; upper inputs ignored
        RR 21, mulw, 0x7fffffff, 2, 0xfffffffffffffffe
        RR 22, mulw, 0x10000, 0x8000, 0xffffffff80000000
        RR 23, mulw, 0xffffffff00000003, 0x1200000005, 15
        RR 24, mulw, -3, 5, -15

        # DIV / DIVU: round toward zero
        RR 25, div,  20, 6, 3
        RR 26, div, -20, 6, -3
        RR 27, div,  20, -6, -3
        RR 28, div, -20, -6, 3
        RR 29, divu, -20, 6, 0x2aaaaaaaaaaaaaa7
        RR 30, divu, 20, 6, 3
        # REM / REMU: sign of the dividend
        RR 31, rem,  20, 6, 2
        RR 32, rem, -20, 6, -2
        RR 33, rem,  20, -6, 2
        RR 34, rem, -20, -6, -2
        RR 35, remu, -20, 6, 2
        RR 36, remu, 20, 6, 2
        # division by zero
        RR 37, div,  1234, 0, -1
        RR 38, div, -1234, 0, -1
        RR 39, divu, 1234, 0, 0xffffffffffffffff
        RR 40, rem,  -1234, 0, -1234
        RR 41, remu, 0x8000000000000000, 0, 0x8000000000000000
        # signed overflow
        RR 42, div, 0x8000000000000000, -1, 0x8000000000000000
        RR 43, rem, 0x8000000000000000, -1, 0
        RR 44, divu, 0x8000000000000000, -1, 0
        RR 45, remu, 0x8000000000000000, -1, 0x8000000000000000

        # W forms: 32-bit operands, sign-extended 32-bit results
        RR 46, divw,  0xffffffff00000014, 6, 3            # upper bits ignored
        RR 47, divw,  -20, 6, -3
        RR 48, divw,  0x80000000, -1, 0xffffffff80000000  # overflow
        RR 49, remw,  0x80000000, -1, 0
        RR 50, divw,  1234, 0, -1                          # by zero
        RR 51, remw,  0x1ffffffff, 0, -1                   # dividend's low word, sign-extended
        RR 52, divuw, 0x80000000, 1, 0xffffffff80000000
        RR 53, divuw, 0xfffffffe, 2, 0x7fffffff
        RR 54, divuw, -20, 6, 0x2aaaaaa7
        RR 55, divuw, 1234, 0, 0xffffffffffffffff
        RR 56, remuw, 0x80000001, 0, 0xffffffff80000001
        RR 57, remuw, -20, 6, 2
        RR 58, remuw, 0x100000007, 0x100000003, 1
        RR 59, remw,  -21, 6, -3
        RR 60, remw,  0x123456789, 0x100000000, 0x23456789 # divisor's low word is 0
        RR 61, divw,  0x123456789, 0x100000000, -1

        # rd equal to a source
        li a1, 100
        li a2, 7
        rem a1, a1, a2
        CHECK 62, a1, 2
        li a1, 9
        mul a1, a1, a1
        CHECK 63, a1, 81
        PASS

# D arithmetic (double precision): add/sub/mul/div/sqrt with exception
# flags, canonical NaN, rounding modes (static and frm, RMM on exact ties),
# overflow and underflow, FMIN/FMAX, FEQ/FLT/FLE, the fused multiply-adds,
# and a NaN-boxed single read by a double operation (just a quiet NaN).
        .include "common.S"
        .include "fp.inc"

        .equ ONE,   0x3ff0000000000000
        .equ TWO,   0x4000000000000000
        .equ THREE, 0x4008000000000000
        .equ M_ONE, 0xbff0000000000000
        .equ INF,   0x7ff0000000000000
        .equ M_INF, 0xfff0000000000000
        .equ MAX,   0x7fefffffffffffff
        .equ SNAN,  0x7ff0000000000001
        .equ QNAN,  0x7ff8000000000000
        .equ NZERO, 0x8000000000000000

test_main:
        FP_ENABLE
        FOP_D   1, fadd.d, ONE, TWO, THREE, 0
        FOP_D   3, fsub.d, ONE, TWO, M_ONE, 0
        FOP_D   5, fmul.d, TWO, THREE, 0x4018000000000000, 0
        FOP_D   7, fdiv.d, ONE, THREE, 0x3fd5555555555555, NX
        FOP_D   9, fdiv.d, ONE, 0, INF, DZ
        FOP_D  11, fdiv.d, M_ONE, 0, M_INF, DZ
        FOP_D  13, fdiv.d, 0, 0, CNAN_D, NV
        FOP_D  15, fadd.d, INF, M_INF, CNAN_D, NV
        FOP_D  17, fadd.d, SNAN, ONE, CNAN_D, NV
        FOP_D  19, fadd.d, 0x7ff8000000012345, ONE, CNAN_D, 0
        FOP_D  21, fmul.d, MAX, TWO, INF, OF | NX
        FOP_D  23, fmul.d, MAX, TWO, MAX, OF | NX, rtz
        FOP_D  25, fmul.d, 0x0010000000000000, 0x3fe0000000000001, 0x0008000000000000, UF | NX
        FOP_D  27, fmul.d, 0x0010000000000000, 0x3fe0000000000000, 0x0008000000000000, 0
        FOP_D  29, fadd.d, ONE, M_ONE, 0, 0
        FOP_D  31, fadd.d, ONE, M_ONE, NZERO, 0, rdn
        FOP1_D 33, fsqrt.d, 0x4010000000000000, TWO, 0
        FOP1_D 35, fsqrt.d, TWO, 0x3ff6a09e667f3bcd, NX
        FOP1_D 37, fsqrt.d, M_ONE, CNAN_D, NV
        FOP1_D 39, fsqrt.d, NZERO, NZERO, 0
        FOP1_D 41, fsqrt.d, TWO, 0x3ff6a09e667f3bcc, NX, rtz
        # rounding modes
        FOP_D  43, fdiv.d, ONE, THREE, 0x3fd5555555555556, NX, rup
        FOP_D  45, fdiv.d, ONE, THREE, 0x3fd5555555555555, NX, rdn
        FOP_D  47, fdiv.d, M_ONE, THREE, 0xbfd5555555555556, NX, rdn
        FOP_D  49, fdiv.d, M_ONE, THREE, 0xbfd5555555555555, NX, rup
        FOP_D  51, fdiv.d, M_ONE, THREE, 0xbfd5555555555555, NX, rmm
        # 1 + 2^-53: an exact tie
        FOP_D  53, fadd.d, ONE, 0x3ca0000000000000, ONE, NX, rne
        FOP_D  55, fadd.d, ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX, rmm
        FOP_D  57, fadd.d, ONE, 0x3ca0000000000000, ONE, NX, rtz
        FOP_D  59, fadd.d, ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX, rup
        FOP_D  61, fadd.d, M_ONE, 0xbca0000000000000, 0xbff0000000000001, NX, rmm
        FOP_D  63, fadd.d, M_ONE, 0xbca0000000000000, 0xbff0000000000001, NX, rdn
        FOP_D  65, fadd.d, ONE, 0x3cb8000000000000, 0x3ff0000000000002, NX, rne
        csrwi frm, 4                            # RMM through frm
        FOP_D  67, fadd.d, ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX
        csrwi frm, 3                            # RUP
        FOP_D  69, fdiv.d, ONE, THREE, 0x3fd5555555555556, NX
        csrwi frm, 0
        # FMIN / FMAX
        FMM_D  71, fmin.d, NZERO, 0, NZERO, 0
        FMM_D  73, fmax.d, NZERO, 0, 0, 0
        FMM_D  75, fmax.d, 0, NZERO, 0, 0
        FMM_D  77, fmin.d, QNAN, M_ONE, M_ONE, 0
        FMM_D  79, fmax.d, SNAN, ONE, ONE, NV
        FMM_D  81, fmin.d, QNAN, 0xfff8000000000001, CNAN_D, 0
        FMM_D  83, fmax.d, M_INF, MAX, MAX, 0
        # comparisons
        FCMP_D 85, feq.d, NZERO, 0, 1, 0
        FCMP_D 87, flt.d, NZERO, 0, 0, 0
        FCMP_D 89, fle.d, ONE, ONE, 1, 0
        FCMP_D 91, flt.d, M_ONE, ONE, 1, 0
        FCMP_D 93, feq.d, QNAN, ONE, 0, 0
        FCMP_D 95, feq.d, SNAN, SNAN, 0, NV
        FCMP_D 97, fle.d, QNAN, ONE, 0, NV
        FCMP_D 99, flt.d, ONE, QNAN, 0, NV
        # fused multiply-add
        FMA_D 101, fmadd.d,  TWO, THREE, ONE, 0x401c000000000000, 0
        FMA_D 103, fmsub.d,  TWO, THREE, ONE, 0x4014000000000000, 0
        FMA_D 105, fnmsub.d, TWO, THREE, ONE, 0xc014000000000000, 0
        FMA_D 107, fnmadd.d, TWO, THREE, ONE, 0xc01c000000000000, 0
        # (1 + 2^-27)^2 - 1 = 2^-26 + 2^-54 exactly (2^-26 if the product were rounded)
        FMA_D 109, fmadd.d,  0x3ff0000002000000, 0x3ff0000002000000, M_ONE, 0x3e50000001000000, 0
        FMA_D 111, fmadd.d,  INF, 0, QNAN, CNAN_D, NV
        FMA_D 113, fnmsub.d, ONE, ONE, 0x3ca0000000000000, 0xbfefffffffffffff, 0   # -1 + 2^-53 exact
        FMA_D 115, fmadd.d,  ONE, ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX, rmm
        # a NaN-boxed single read as a double is a quiet NaN (no boxing check for D)
        li a0, 0x3f800000
        fmv.w.x f1, a0                          # f1 = 0xffffffff3f800000
        li a0, ONE
        fmv.d.x f2, a0
        csrw fflags, zero
        fadd.d f3, f1, f2
        CHECK_D 117, f3, CNAN_D
        CHECK_FFLAGS 118, 0
        fclass.d a0, f1
        CHECK 119, a0, 1 << 9
        PASS

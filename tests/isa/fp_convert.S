# F and D conversions: FP -> integer in every width with each rounding mode,
# saturation of out-of-range values, NaN and infinities (the spec's table:
# NaN -> largest positive, -inf -> smallest) with NV, NX for inexact in-range
# results, 32-bit results sign-extended (also FCVT.WU); integer -> FP with
# rounding (ties in RNE and RMM), the low 32 bits used by the W forms;
# single <-> double with exact widening, rounding, overflow and underflow on
# narrowing, and canonical NaNs.
        .include "common.S"
        .include "fp.inc"

        .equ S_NAN,  0x7fc00000
        .equ S_SNAN, 0x7f800001
        .equ S_INF,  0x7f800000
        .equ S_MINF, 0xff800000
        .equ D_NAN,  0x7ff8000000000000
        .equ D_INF,  0x7ff0000000000000
        .equ D_MINF, 0xfff0000000000000

test_main:
        FP_ENABLE
        # ---- single -> int32, each rounding mode
        F2I_S   1, fcvt.w.s, 0x3fc00000, 2, NX, rne              #  1.5
        F2I_S   3, fcvt.w.s, 0x3fc00000, 1, NX, rtz
        F2I_S   5, fcvt.w.s, 0x40200000, 2, NX, rne              #  2.5: ties to even
        F2I_S   7, fcvt.w.s, 0x40200000, 3, NX, rmm              #  ties away
        F2I_S   9, fcvt.w.s, 0x40200000, 2, NX, rdn
        F2I_S  11, fcvt.w.s, 0x40200000, 3, NX, rup
        F2I_S  13, fcvt.w.s, 0xc0200000, -2, NX, rne             # -2.5
        F2I_S  15, fcvt.w.s, 0xc0200000, -3, NX, rmm
        F2I_S  17, fcvt.w.s, 0xc0200000, -2, NX, rtz
        F2I_S  19, fcvt.w.s, 0xc0200000, -3, NX, rdn
        F2I_S  21, fcvt.w.s, 0xc0200000, -2, NX, rup
        csrwi frm, 4
        F2I_S  23, fcvt.w.s, 0x40200000, 3, NX                   # frm = RMM
        csrwi frm, 0
        F2I_S  25, fcvt.w.s, 0xbf000000, 0, NX                   # -0.5 -> 0
        # ---- single -> int32: range limits, saturation
        F2I_S  27, fcvt.w.s, 0x4effffff, 0x7fffff80, 0
        F2I_S  29, fcvt.w.s, 0x4f000000, 0x7fffffff, NV          # 2^31
        F2I_S  31, fcvt.w.s, 0xcf000000, 0xffffffff80000000, 0   # -2^31 fits
        F2I_S  33, fcvt.w.s, 0xcf000001, 0xffffffff80000000, NV
        F2I_S  35, fcvt.w.s, S_NAN, 0x7fffffff, NV
        F2I_S  37, fcvt.w.s, S_SNAN, 0x7fffffff, NV
        F2I_S  39, fcvt.w.s, 0xffc00000, 0x7fffffff, NV          # negative NaN too
        F2I_S  41, fcvt.w.s, S_INF, 0x7fffffff, NV
        F2I_S  43, fcvt.w.s, S_MINF, 0xffffffff80000000, NV
        # ---- single -> uint32: sign-extended result
        F2I_S  45, fcvt.wu.s, 0x4f32d05e, 0xffffffffb2d05e00, 0  # 3e9
        F2I_S  47, fcvt.wu.s, 0x4f800000, 0xffffffffffffffff, NV # 2^32
        F2I_S  49, fcvt.wu.s, 0xbf800000, 0, NV                  # -1
        F2I_S  51, fcvt.wu.s, 0xbf000000, 0, NX, rtz             # -0.5 rounds to 0: in range
        F2I_S  53, fcvt.wu.s, 0xbf19999a, 0, NV, rne             # -0.6 rounds to -1: invalid
        F2I_S  55, fcvt.wu.s, S_NAN, 0xffffffffffffffff, NV
        F2I_S  57, fcvt.wu.s, S_INF, 0xffffffffffffffff, NV
        F2I_S  59, fcvt.wu.s, S_MINF, 0, NV
        # ---- single -> int64 / uint64
        F2I_S  61, fcvt.l.s, 0x501502f9, 10000000000, 0
        F2I_S  63, fcvt.l.s, 0x5f000000, 0x7fffffffffffffff, NV  # 2^63
        F2I_S  65, fcvt.l.s, 0xdf000000, 0x8000000000000000, 0   # -2^63
        F2I_S  67, fcvt.l.s, S_NAN, 0x7fffffffffffffff, NV
        F2I_S  69, fcvt.l.s, S_MINF, 0x8000000000000000, NV
        F2I_S  71, fcvt.l.s, 0xc0200000, -3, NX, rdn
        F2I_S  73, fcvt.lu.s, 0x5f800000, 0xffffffffffffffff, NV # 2^64
        F2I_S  75, fcvt.lu.s, 0x5f000000, 0x8000000000000000, 0
        F2I_S  77, fcvt.lu.s, S_NAN, 0xffffffffffffffff, NV
        F2I_S  79, fcvt.lu.s, S_MINF, 0, NV
        F2I_S  81, fcvt.lu.s, 0x80000000, 0, 0                   # -0
        # ---- double -> integer
        F2I_D  83, fcvt.w.d, 0x41dfffffffe00000, 0x7fffffff, NV, rne  # 2^31-0.5 rounds to 2^31
        F2I_D  85, fcvt.w.d, 0x41dfffffffe00000, 0x7fffffff, NX, rtz
        F2I_D  87, fcvt.w.d, 0xc1e0000000100000, 0xffffffff80000000, NX, rne  # -2^31-0.5: tie to even
        F2I_D  89, fcvt.w.d, 0xc1e0000000100000, 0xffffffff80000000, NV, rdn
        F2I_D  91, fcvt.w.d, D_NAN, 0x7fffffff, NV
        F2I_D  93, fcvt.wu.d, 0x41efffffffe00000, 0xffffffffffffffff, 0  # 2^32-1
        F2I_D  95, fcvt.wu.d, D_MINF, 0, NV
        F2I_D  97, fcvt.l.d, 0x43e0000000000000, 0x7fffffffffffffff, NV
        F2I_D  99, fcvt.l.d, 0xc3e0000000000000, 0x8000000000000000, 0
        F2I_D 101, fcvt.l.d, 0x3ff8000000000000, 2, NX, rmm     #  1.5
        F2I_D 103, fcvt.l.d, 0xbff8000000000000, -2, NX, rmm    # -1.5
        F2I_D 105, fcvt.l.d, 0x3fe0000000000000, 0, NX, rne     #  0.5
        F2I_D 107, fcvt.l.d, 0x3fe0000000000000, 1, NX, rmm
        F2I_D 109, fcvt.l.d, D_INF, 0x7fffffffffffffff, NV
        F2I_D 111, fcvt.lu.d, 0x43efffffffffffff, 0xfffffffffffff800, 0
        F2I_D 113, fcvt.lu.d, 0xbff0000000000000, 0, NV
        F2I_D 115, fcvt.lu.d, D_NAN, 0xffffffffffffffff, NV

        # ---- integer -> single
        I2F_S 117, fcvt.s.w, 16777217, 0x4b800000, NX, rne      # 2^24+1: a tie
        I2F_S 119, fcvt.s.w, 16777217, 0x4b800001, NX, rmm
        I2F_S 121, fcvt.s.w, 16777217, 0x4b800001, NX, rup
        I2F_S 123, fcvt.s.w, 16777217, 0x4b800000, NX, rtz
        I2F_S 125, fcvt.s.w, 0x100000001, 0x3f800000, 0         # low 32 bits only
        I2F_S 127, fcvt.s.w, 0xffffffff, 0xbf800000, 0          # -1
        I2F_S 129, fcvt.s.wu, 0xffffffff, 0x4f800000, NX
        I2F_S 131, fcvt.s.wu, 0xffffffff, 0x4f7fffff, NX, rtz
        I2F_S 133, fcvt.s.wu, 0xffffffff00000005, 0x40a00000, 0
        I2F_S 135, fcvt.s.l, -1, 0xbf800000, 0
        I2F_S 137, fcvt.s.l, 0x8000000000000000, 0xdf000000, 0
        I2F_S 139, fcvt.s.lu, 0xffffffffffffffff, 0x5f800000, NX
        I2F_S 141, fcvt.s.l, 0, 0x00000000, 0                   # +0
        # ---- integer -> double
        I2F_D 143, fcvt.d.l, 0x20000000000001, 0x4340000000000000, NX, rne
        I2F_D 145, fcvt.d.l, 0x20000000000001, 0x4340000000000001, NX, rup
        I2F_D 147, fcvt.d.w, 0x12345678fffffffb, 0xc014000000000000, 0   # -5
        I2F_D 149, fcvt.d.wu, 0xffffffff, 0x41efffffffe00000, 0
        I2F_D 151, fcvt.d.lu, 0xffffffffffffffff, 0x43f0000000000000, NX

        # ---- single <-> double
        li a0, 0x00000001                       # smallest single subnormal: a double normal
        fmv.w.x f1, a0
        csrw fflags, zero
        fcvt.d.s f3, f1
        CHECK_D 153, f3, 0x36a0000000000000
        CHECK_FFLAGS 154, 0
        li a0, S_SNAN
        fmv.w.x f1, a0
        fcvt.d.s f3, f1
        CHECK_D 155, f3, D_NAN
        CHECK_FFLAGS 156, NV
        li a0, 0xffc12345
        fmv.w.x f1, a0
        csrw fflags, zero
        fcvt.d.s f3, f1
        CHECK_D 157, f3, D_NAN
        CHECK_FFLAGS 158, 0
        li a0, S_MINF
        fmv.w.x f1, a0
        fcvt.d.s f3, f1
        CHECK_D 159, f3, D_MINF
        li a0, 0x3ff0000000000001               # 1 + 2^-52
        fmv.d.x f1, a0
        csrw fflags, zero
        fcvt.s.d f3, f1
        CHECK_S 160, f3, 0x3f800000
        CHECK_FFLAGS 161, NX
        fcvt.s.d f3, f1, rup
        CHECK_S 162, f3, 0x3f800001
        li a0, 0x7e37e43c8800759c               # 1e300
        fmv.d.x f1, a0
        csrw fflags, zero
        fcvt.s.d f3, f1
        CHECK_S 163, f3, S_INF
        CHECK_FFLAGS 164, OF | NX
        fcvt.s.d f3, f1, rtz
        CHECK_S 165, f3, 0x7f7fffff
        li a0, 0x01a56e1fc2f8f359               # 1e-300
        fmv.d.x f1, a0
        csrw fflags, zero
        fcvt.s.d f3, f1
        CHECK_S 166, f3, 0
        CHECK_FFLAGS 167, UF | NX
        li a0, 0x36a0000000000000               # 2^-149 exactly: subnormal, exact
        fmv.d.x f1, a0
        csrw fflags, zero
        fcvt.s.d f3, f1
        CHECK_S 168, f3, 0x00000001
        CHECK_FFLAGS 169, 0
        li a0, 0x7ff0000000000001
        fmv.d.x f1, a0
        fcvt.s.d f3, f1
        CHECK_S 170, f3, S_NAN
        CHECK_FFLAGS 171, NV
        PASS

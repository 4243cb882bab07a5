# F arithmetic (single precision): add/sub/mul/div/sqrt results and
# exception flags (NX, UF, OF, DZ, NV, sticky), the canonical NaN for every NaN
# result, the five rounding modes given statically and through frm (RMM on
# exact ties, overflow per mode, the sign of an exact zero sum), reserved
# rounding modes (static 5/6, frm 5/6/7 with dyn) raising illegal
# instruction, FMIN/FMAX with signed zeros and NaNs, FEQ/FLT/FLE (quiet vs
# signalling), and the four fused multiply-adds with a single rounding.
        .include "common.S"

        .include "fp.inc"

test_main:
        FP_ENABLE
        # ---- single precision basics (frm = RNE)
        FOP_S   1, fadd.s, 0x3f800000, 0x40000000, 0x40400000, 0       # 1 + 2 = 3
        FOP_S   3, fsub.s, 0x3f800000, 0x40000000, 0xbf800000, 0       # 1 - 2 = -1
        FOP_S   5, fmul.s, 0x40000000, 0x40400000, 0x40c00000, 0       # 2 * 3 = 6
        FOP_S   7, fdiv.s, 0x3f800000, 0x40400000, 0x3eaaaaab, NX      # 1 / 3
        FOP_S   9, fdiv.s, 0x3f800000, 0x00000000, 0x7f800000, DZ      # 1 / 0 = +inf
        FOP_S  11, fdiv.s, 0xbf800000, 0x00000000, 0xff800000, DZ      # -1 / 0 = -inf
        FOP_S  13, fdiv.s, 0x00000000, 0x00000000, CNAN_S, NV          # 0 / 0
        FOP_S  15, fadd.s, 0x7f800000, 0xff800000, CNAN_S, NV          # inf - inf
        FOP_S  17, fmul.s, 0x7f800000, 0x00000000, CNAN_S, NV          # inf * 0
        FOP_S  19, fadd.s, 0x7f800001, 0x3f800000, CNAN_S, NV          # signalling NaN
        FOP_S  21, fadd.s, 0x7fc12345, 0x3f800000, CNAN_S, 0           # quiet NaN: canonical, no flag
        FOP_S  23, fmul.s, 0xffc00001, 0x7fc00002, CNAN_S, 0
        FOP_S  25, fmul.s, 0x7f7fffff, 0x40000000, 0x7f800000, OF | NX # overflow
        FOP_S  27, fmul.s, 0x00800000, 0x3f000001, 0x00400000, UF | NX # tiny and inexact
        FOP_S  29, fmul.s, 0x00800000, 0x3f000000, 0x00400000, 0       # exact subnormal: no UF
        FOP_S  31, fdiv.s, 0x00000001, 0x40000000, 0x00000000, UF | NX # half the smallest: tie to 0
        FOP_S  33, fadd.s, 0x3f800000, 0xbf800000, 0x00000000, 0       # exact zero: +0
        FOP_S  35, fadd.s, 0x3f800000, 0xbf800000, 0x80000000, 0, rdn  # ... -0 when rounding down
        FOP_S  37, fsub.s, 0x80000000, 0x00000000, 0x80000000, 0       # -0 - +0 = -0
        FOP1_S 39, fsqrt.s, 0x40800000, 0x40000000, 0                  # sqrt 4
        FOP1_S 41, fsqrt.s, 0x40000000, 0x3fb504f3, NX                 # sqrt 2
        FOP1_S 43, fsqrt.s, 0xbf800000, CNAN_S, NV                     # sqrt -1
        FOP1_S 45, fsqrt.s, 0x80000000, 0x80000000, 0                  # sqrt -0 = -0
        FOP1_S 47, fsqrt.s, 0x7f800000, 0x7f800000, 0                  # sqrt inf
        # flags are sticky
        csrw fflags, zero
        li a0, 0x3f800000
        fmv.w.x f1, a0
        li a0, 0x40400000
        fmv.w.x f2, a0
        fmv.w.x f0, zero
        fdiv.s f3, f1, f2                       # NX
        fdiv.s f3, f1, f0                       # DZ
        CHECK_FFLAGS 49, NX | DZ

        # ---- rounding modes, static
        FOP_S  50, fdiv.s, 0x3f800000, 0x40400000, 0x3eaaaaab, NX, rne
        FOP_S  52, fdiv.s, 0x3f800000, 0x40400000, 0x3eaaaaaa, NX, rtz
        FOP_S  54, fdiv.s, 0x3f800000, 0x40400000, 0x3eaaaaaa, NX, rdn
        FOP_S  56, fdiv.s, 0x3f800000, 0x40400000, 0x3eaaaaab, NX, rup
        FOP_S  58, fdiv.s, 0x3f800000, 0x40400000, 0x3eaaaaab, NX, rmm
        FOP_S  60, fdiv.s, 0xbf800000, 0x40400000, 0xbeaaaaab, NX, rne
        FOP_S  62, fdiv.s, 0xbf800000, 0x40400000, 0xbeaaaaaa, NX, rtz
        FOP_S  64, fdiv.s, 0xbf800000, 0x40400000, 0xbeaaaaab, NX, rdn
        FOP_S  66, fdiv.s, 0xbf800000, 0x40400000, 0xbeaaaaaa, NX, rup
        FOP_S  68, fdiv.s, 0xbf800000, 0x40400000, 0xbeaaaaab, NX, rmm
        # 1 + 2^-24 lies exactly halfway between 1 and 1 + 2^-23
        FOP_S  70, fadd.s, 0x3f800000, 0x33800000, 0x3f800000, NX, rne # ties to even
        FOP_S  72, fadd.s, 0x3f800000, 0x33800000, 0x3f800001, NX, rmm # ties away from zero
        FOP_S  74, fadd.s, 0x3f800000, 0x33800000, 0x3f800000, NX, rtz
        FOP_S  76, fadd.s, 0x3f800000, 0x33800000, 0x3f800000, NX, rdn
        FOP_S  78, fadd.s, 0x3f800000, 0x33800000, 0x3f800001, NX, rup
        FOP_S  80, fadd.s, 0xbf800000, 0xb3800000, 0xbf800001, NX, rmm
        FOP_S  82, fadd.s, 0xbf800000, 0xb3800000, 0xbf800000, NX, rne
        FOP_S  84, fadd.s, 0xbf800000, 0xb3800000, 0xbf800001, NX, rdn
        FOP_S  86, fadd.s, 0xbf800000, 0xb3800000, 0xbf800000, NX, rup
        # 1 + 3 * 2^-24: the tie is at an odd significand, so RNE rounds up too
        FOP_S  88, fadd.s, 0x3f800000, 0x34400000, 0x3f800002, NX, rne
        FOP_S  90, fadd.s, 0x3f800000, 0x34400000, 0x3f800002, NX, rmm
        FOP_S  92, fadd.s, 0x3f800000, 0x34400000, 0x3f800001, NX, rtz
        # overflow in each mode: to infinity or to the largest finite value
        FOP_S  94, fmul.s, 0x7f7fffff, 0x40000000, 0x7f7fffff, OF | NX, rtz
        FOP_S  96, fmul.s, 0x7f7fffff, 0x40000000, 0x7f7fffff, OF | NX, rdn
        FOP_S  98, fmul.s, 0x7f7fffff, 0x40000000, 0x7f800000, OF | NX, rup
        FOP_S 100, fmul.s, 0xff7fffff, 0x40000000, 0xff7fffff, OF | NX, rup
        FOP_S 102, fmul.s, 0xff7fffff, 0x40000000, 0xff800000, OF | NX, rmm

        # ---- rounding modes through frm (dyn)
        csrwi frm, 3                            # RUP
        FOP_S 104, fadd.s, 0x3f800000, 0x33800000, 0x3f800001, NX
        FOP_S 106, fadd.s, 0x3f800000, 0x33800000, 0x3f800000, NX, rne   # static wins
        csrwi frm, 2                            # RDN
        FOP_S 108, fadd.s, 0xbf800000, 0xb3800000, 0xbf800001, NX
        csrwi frm, 4                            # RMM
        FOP_S 110, fadd.s, 0x3f800000, 0x33800000, 0x3f800001, NX
        csrwi frm, 1                            # RTZ
        FOP_S 112, fdiv.s, 0x3f800000, 0x40400000, 0x3eaaaaaa, NX
        # reserved rounding modes
        csrwi frm, 5
        EXPECT_TRAP 114, CAUSE_ILLEGAL, fadd.s f3, f1, f2
        csrwi frm, 6
        EXPECT_TRAP 115, CAUSE_ILLEGAL, fmul.s f3, f1, f2
        csrwi frm, 7
        EXPECT_TRAP 116, CAUSE_ILLEGAL, fsqrt.d f3, f1
        fadd.s f3, f1, f2, rne                  # static rounding: fine with a bad frm
        fmin.s f3, f1, f2                       # no rounding: fine too
        csrwi frm, 0
        EXPECT_TRAP 117, CAUSE_ILLEGAL, .word 0x0020d1d3   # fadd.s f3, f1, f2 with rm = 5
        EXPECT_TRAP 118, CAUSE_ILLEGAL, .word 0x0020e1d3   # rm = 6

        # ---- FMIN / FMAX: -0 < +0; one NaN: the other operand
        FMM_S 119, fmin.s, 0x80000000, 0x00000000, 0x80000000, 0
        FMM_S 121, fmin.s, 0x00000000, 0x80000000, 0x80000000, 0
        FMM_S 123, fmax.s, 0x80000000, 0x00000000, 0x00000000, 0
        FMM_S 125, fmax.s, 0x00000000, 0x80000000, 0x00000000, 0
        FMM_S 127, fmin.s, 0x7fc00000, 0x3f800000, 0x3f800000, 0
        FMM_S 129, fmax.s, 0xbf800000, 0xffc00123, 0xbf800000, 0
        FMM_S 131, fmin.s, 0x7fc00001, 0xffc00002, CNAN_S, 0
        FMM_S 133, fmin.s, 0x7f800001, 0x3f800000, 0x3f800000, NV      # signalling: NV
        FMM_S 135, fmax.s, 0x7f800001, 0x7f800002, CNAN_S, NV
        FMM_S 137, fmin.s, 0xff800000, 0x3f800000, 0xff800000, 0
        FMM_S 139, fmax.s, 0x40000000, 0x40400000, 0x40400000, 0

        # ---- comparisons: FEQ is quiet, FLT/FLE signal on any NaN
        FCMP_S 141, feq.s, 0x3f800000, 0x3f800000, 1, 0
        FCMP_S 143, feq.s, 0x80000000, 0x00000000, 1, 0
        FCMP_S 145, flt.s, 0x80000000, 0x00000000, 0, 0
        FCMP_S 147, fle.s, 0x80000000, 0x00000000, 1, 0
        FCMP_S 149, flt.s, 0xbf800000, 0x3f800000, 1, 0
        FCMP_S 151, fle.s, 0x40000000, 0x3f800000, 0, 0
        FCMP_S 153, feq.s, 0x7fc00000, 0x7fc00000, 0, 0
        FCMP_S 155, feq.s, 0x7f800001, 0x3f800000, 0, NV
        FCMP_S 157, flt.s, 0x7fc00000, 0x3f800000, 0, NV
        FCMP_S 159, fle.s, 0x3f800000, 0x7fc00000, 0, NV
        FCMP_S 161, flt.s, 0xff800000, 0x7f800000, 1, 0

        # ---- fused multiply-add: one rounding
        FMA_S 163, fmadd.s,  0x40000000, 0x40400000, 0x3f800000, 0x40e00000, 0   #  2*3+1
        FMA_S 165, fmsub.s,  0x40000000, 0x40400000, 0x3f800000, 0x40a00000, 0   #  2*3-1
        FMA_S 167, fnmsub.s, 0x40000000, 0x40400000, 0x3f800000, 0xc0a00000, 0   # -2*3+1
        FMA_S 169, fnmadd.s, 0x40000000, 0x40400000, 0x3f800000, 0xc0e00000, 0   # -2*3-1
        # (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24 exactly; rounding the product first gives 2^-11
        FMA_S 171, fmadd.s,  0x3f800800, 0x3f800800, 0xbf800000, 0x3a000400, 0
        FMA_S 173, fmadd.s,  0x3f800000, 0x3f800000, 0x33800000, 0x3f800001, NX, rup
        FMA_S 175, fmadd.s,  0x7f800000, 0x00000000, 0x7fc00000, CNAN_S, NV      # inf*0 + qNaN: NV
        FMA_S 177, fmadd.s,  0x3f800000, 0x3f800000, 0x7f800001, CNAN_S, NV
        FMA_S 179, fmadd.s,  0x3f800000, 0x3f800000, 0x7fc00000, CNAN_S, 0
        FMA_S 181, fmsub.s,  0x7f800000, 0x3f800000, 0x7f800000, CNAN_S, NV      # inf - inf
        FMA_S 183, fnmadd.s, 0x3f800000, 0x00000000, 0x00000000, 0x80000000, 0   # -(1*0) - 0 = -0
        PASS

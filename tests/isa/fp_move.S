# F and D state and data movement: mstatus.FS (Off traps every FP
# instruction and FP CSR; a write makes it Dirty and sets SD), FLW/FSW/FLD/FSD
# (bits preserved, single values NaN-boxed), FMV.X.W (sign-extends the low 32
# bits), FMV.W.X, FMV.X.D, FMV.D.X, NaN boxing (an improperly boxed single is
# read as the canonical NaN, except by FSW and FMV.X.W), the sign-injection
# instructions (no canonicalisation, no flags), FCLASS.S/D for all ten
# classes, and the fcsr / frm / fflags layout.
        .include "common.S"

.macro CLASS_S n, bits, class
  li a0, \bits
  fmv.w.x f10, a0
  fclass.s a0, f10
  CHECK \n, a0, \class
.endm
.macro CLASS_D n, bits, class
  li a0, \bits
  fmv.d.x f10, a0
  fclass.d a0, f10
  CHECK \n, a0, \class
.endm

test_main:
        la s0, fdata
        la s1, scratch
        # FS = Off: FP instructions and FP CSRs are illegal
        EXPECT_TRAP 1, CAUSE_ILLEGAL, flw f1, 0(s0)
        EXPECT_TRAP 2, CAUSE_ILLEGAL, fadd.d f1, f2, f3
        EXPECT_TRAP 3, CAUSE_ILLEGAL, csrr a0, fflags
        EXPECT_TRAP 4, CAUSE_ILLEGAL, fmv.x.d a0, f1
        EXPECT_TRAP 5, CAUSE_ILLEGAL, csrw fcsr, zero
        EXPECT_TRAP 6, CAUSE_ILLEGAL, fsd f1, 0(s1)
        # FS = Initial: clean; writing an FP register makes it Dirty and sets SD
        li t0, 1 << 13
        csrs mstatus, t0
        CHECK_CSR_MASK 7, mstatus, MSTATUS_FS | MSTATUS_SD, 1 << 13
        li a0, 0x3f800000
        fmv.w.x f1, a0
        CHECK_CSR_MASK 8, mstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS | MSTATUS_SD
        # turning the unit off and on keeps the registers
        li t0, MSTATUS_FS
        csrc mstatus, t0
        EXPECT_TRAP 9, CAUSE_ILLEGAL, fmv.x.w a0, f1
        li t0, 1 << 13
        csrs mstatus, t0
        CHECK_S 10, f1, 0x3f800000
        li t0, 1 << 13
        csrc mstatus, t0
        li t0, 2 << 13                          # Clean
        csrs mstatus, t0
        csrw fflags, zero                       # an FP CSR write dirties the state
        CHECK_CSR_MASK 11, mstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS | MSTATUS_SD
        csrw fcsr, zero

        # loads and stores
        flw f1, 0(s0)
        CHECK_S 12, f1, 0x3f800000
        flw f2, 4(s0)
        CHECK_D 13, f2, 0xffffffffc0000000      # NaN-boxed
        fld f3, 8(s0)
        CHECK_D 14, f3, 0x400921fb54442d18
        flw f4, 24(s0)                          # a signalling NaN loads unchanged
        CHECK_S 15, f4, 0x7f800001
        fld f5, 16(s0)
        CHECK_D 16, f5, 0x7ff0000000000001
        li a0, -1
        sd a0, 0(s1)
        sd a0, 8(s1)
        fsw f2, 4(s1)
        ld a0, 0(s1)
        CHECK 17, a0, 0xc0000000ffffffff
        fsd f5, 8(s1)
        ld a0, 8(s1)
        CHECK 18, a0, 0x7ff0000000000001
        fsw f3, 0(s1)                           # FSW stores the low 32 bits, boxed or not
        lwu a0, 0(s1)
        CHECK 19, a0, 0x54442d18
        addi s2, s1, 16
        fsd f3, -16(s2)
        ld a0, 0(s1)
        CHECK 20, a0, 0x400921fb54442d18
        flw f6, -12(s2)
        CHECK_S 21, f6, 0x400921fb
        csrr a0, fflags
        CHECK 22, a0, 0                          # moves raise no flags

        # integer <-> FP register moves
        fmv.x.w a0, f2
        CHECK 23, a0, 0xffffffffc0000000
        fmv.x.w a0, f1
        CHECK 24, a0, 0x3f800000
        li a1, 0x3ff0000080000000
        fmv.d.x f7, a1
        fmv.x.w a0, f7                          # the low 32 bits, sign-extended
        CHECK 25, a0, 0xffffffff80000000
        li a1, 0x12345678c0490fdb
        fmv.w.x f7, a1
        CHECK_D 26, f7, 0xffffffffc0490fdb
        fmv.x.d a0, f7
        CHECK 27, a0, 0xffffffffc0490fdb
        li a1, 0xfff0000000000123               # a NaN payload moves unchanged
        fmv.d.x f7, a1
        fmv.x.d a0, f7
        CHECK 28, a0, 0xfff0000000000123

        # NaN boxing: an improperly boxed single reads as the canonical NaN
        li a1, 0x000000003f800000
        fmv.d.x f5, a1
        fadd.s f6, f5, f1
        CHECK_S 29, f6, 0x7fc00000
        CHECK_FFLAGS 30, 0                      # a quiet NaN: no invalid flag
        fsgnj.s f6, f5, f1
        CHECK_S 31, f6, 0x7fc00000
        fsgnjn.s f6, f1, f5
        CHECK_S 32, f6, 0xbf800000              # sign of the canonical NaN (+), inverted
        fclass.s a0, f5
        CHECK 33, a0, 0x200
        fcvt.d.s f6, f5
        CHECK_D 34, f6, 0x7ff8000000000000
        feq.s a0, f5, f5
        CHECK 35, a0, 0
        CHECK_FFLAGS 36, 0
        fmv.x.w a0, f5                          # FMV.X.W and FSW do not check boxing
        CHECK 37, a0, 0x3f800000
        fsw f5, 0(s1)
        lwu a0, 0(s1)
        CHECK 38, a0, 0x3f800000
        li a1, 0xfffffffe3f800000               # one upper bit clear is enough
        fmv.d.x f5, a1
        fmul.s f6, f5, f1
        CHECK_S 39, f6, 0x7fc00000
        li a1, 0xffffffff3f800000               # properly boxed: 1.0
        fmv.d.x f5, a1
        fadd.s f6, f5, f1
        CHECK_S 40, f6, 0x40000000

        # sign injection: sign from rs2, no canonicalisation, no flags
        fsgnj.s f6, f1, f2
        CHECK_S 41, f6, 0xbf800000
        fsgnjn.s f6, f1, f2
        CHECK_S 42, f6, 0x3f800000
        fsgnjx.s f6, f2, f2
        CHECK_S 43, f6, 0x40000000
        fneg.s f6, f2
        CHECK_S 44, f6, 0x40000000
        fabs.s f6, f2
        CHECK_S 45, f6, 0x40000000
        fsgnjn.s f6, f4, f4                     # signalling NaN keeps its payload
        CHECK_S 46, f6, 0xff800001
        CHECK_FFLAGS 47, 0
        fld f5, 16(s0)
        li a1, 0xc000000000000000               # -2.0
        fmv.d.x f8, a1
        fsgnj.d f6, f3, f8
        CHECK_D 48, f6, 0xc00921fb54442d18
        fsgnjn.d f6, f8, f8
        CHECK_D 49, f6, 0x4000000000000000
        fsgnjx.d f6, f3, f8
        CHECK_D 50, f6, 0xc00921fb54442d18
        fsgnjx.d f6, f8, f8
        CHECK_D 51, f6, 0x4000000000000000
        fabs.d f6, f8
        CHECK_D 52, f6, 0x4000000000000000
        fsgnjn.d f6, f5, f3
        CHECK_D 53, f6, 0xfff0000000000001
        CHECK_FFLAGS 54, 0

        # FCLASS: one bit per class, no flags
        CLASS_S 55, 0xff800000, 1 << 0         # -inf
        CLASS_S 56, 0xbf800000, 1 << 1         # negative normal
        CLASS_S 57, 0x80000001, 1 << 2         # negative subnormal
        CLASS_S 58, 0x80000000, 1 << 3         # -0
        CLASS_S 59, 0x00000000, 1 << 4         # +0
        CLASS_S 60, 0x007fffff, 1 << 5         # positive subnormal
        CLASS_S 61, 0x7f7fffff, 1 << 6         # positive normal
        CLASS_S 62, 0x7f800000, 1 << 7         # +inf
        CLASS_S 63, 0x7f800001, 1 << 8         # signalling NaN
        CLASS_S 64, 0xffc00000, 1 << 9         # quiet NaN
        CLASS_S 65, 0x7fbfffff, 1 << 8
        CLASS_D 66, 0xfff0000000000000, 1 << 0
        CLASS_D 67, 0xbff0000000000000, 1 << 1
        CLASS_D 68, 0x800fffffffffffff, 1 << 2
        CLASS_D 69, 0x8000000000000000, 1 << 3
        CLASS_D 70, 0x0000000000000000, 1 << 4
        CLASS_D 71, 0x0000000000000001, 1 << 5
        CLASS_D 72, 0x0010000000000000, 1 << 6
        CLASS_D 73, 0x7ff0000000000000, 1 << 7
        CLASS_D 74, 0x7ff4000000000000, 1 << 8
        CLASS_D 75, 0x7ff8000000000000, 1 << 9
        CLASS_D 76, 0xfff8000000000001, 1 << 9
        CHECK_FFLAGS 77, 0

        # fcsr = frm << 5 | fflags; other bits read zero
        li a0, 0x1ff
        csrw fcsr, a0
        CHECK_CSR 78, fcsr, 0xff
        CHECK_CSR 79, frm, 7
        CHECK_CSR 80, fflags, 0x1f
        csrwi fflags, 0x0a
        CHECK_CSR 81, fcsr, 0xea
        li a0, 0xfd
        csrrw a1, frm, a0                       # only 3 bits
        CHECK 82, a1, 7
        CHECK_CSR 83, fcsr, 0xaa
        li a0, 0xe5
        csrrw a1, fflags, a0                    # only 5 bits
        CHECK 84, a1, 0x0a
        CHECK_CSR 85, fcsr, 0xa5
        csrrci a1, fflags, 0x1f
        CHECK_CSR 86, fcsr, 0xa0
        csrrsi a1, frm, 0
        CHECK 87, a1, 5
        csrw fcsr, zero
        PASS

        .data
        .align 4
fdata:  .word 0x3f800000, 0xc0000000           # 1.0f, -2.0f
        .dword 0x400921fb54442d18               # pi
        .dword 0x7ff0000000000001               # signalling NaN (double)
        .word 0x7f800001, 0                     # signalling NaN (single)
        .align 4
scratch: .fill 4, 8, 0

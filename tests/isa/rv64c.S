# C extension (RV64C): one representative use of every compressed
# instruction, each compared with the result of its uncompressed equivalent;
# 2-byte instruction lengths (pc advance, jump links), the defined-illegal
# all-zero halfword, and c.ebreak.
        .include "common.S"
        .option rvc

# An uncompressed instruction, whatever the assembler would choose.
.macro FULL insn:vararg
  .option push
  .option norvc
  \insn
  .option pop
.endm

test_main:
        FP_ENABLE
        # ---- quadrant 1: integer computation
        li a0, 100
        c.addi a0, -31
        CHECK 1, a0, 69
        li a0, 0x7fffffff
        c.addiw a0, 1                           # sign-extends the 32-bit sum
        li a1, 0x7fffffff
        FULL addiw a1, a1, 1
        CHECK_REG 2, a0, a1
        CHECK 3, a0, 0xffffffff80000000
        li a0, 0x100000005
        c.addiw a0, 0                           # sext.w
        CHECK 4, a0, 5
        c.li a0, -32
        CHECK 5, a0, -32
        c.li a5, 31
        CHECK 6, a5, 31
        c.lui a0, 0xfffe0                       # nzimm[17:12] = -32: sign-extended
        FULL lui a1, 0xfffe0
        CHECK_REG 7, a0, a1
        CHECK 8, a0, 0xfffffffffffe0000
        c.lui s1, 1
        CHECK 9, s1, 0x1000
        c.lui a0, 0x1f
        CHECK 10, a0, 0x1f000
        li a0, 0x8000000000000010
        c.srli a0, 4
        CHECK 11, a0, 0x0800000000000001
        li a0, 0x8000000000000010
        c.srai a0, 4
        CHECK 12, a0, 0xf800000000000001
        li a0, 0x8000000000000000
        c.srli a0, 63
        CHECK 13, a0, 1
        li a0, 0x8000000000000000
        c.srai a0, 32                           # shamt[5] = 1
        CHECK 14, a0, 0xffffffff80000000
        li a0, 0x12345678
        c.andi a0, -16
        CHECK 15, a0, 0x12345670
        li a0, 0x12345678
        c.andi a0, 0x1f
        CHECK 16, a0, 0x18
        li s0, 50
        li s1, 8
        c.sub s0, s1
        CHECK 17, s0, 42
        li a2, 0xff00ff00ff00ff00
        li a3, 0x0ff00ff00ff00ff0
        mv a4, a2
        c.xor a4, a3
        CHECK 18, a4, 0xf0f0f0f0f0f0f0f0
        mv a4, a2
        c.or a4, a3
        CHECK 19, a4, 0xfff0fff0fff0fff0
        mv a4, a2
        c.and a4, a3
        CHECK 20, a4, 0x0f000f000f000f00
        li a0, 0x80000000
        li a1, 1
        c.subw a0, a1
        CHECK 21, a0, 0x7fffffff
        li a0, 0
        c.subw a0, a1
        CHECK 22, a0, -1
        li a0, 0x7fffffff
        c.addw a0, a1
        CHECK 23, a0, 0xffffffff80000000
        c.nop
        addi x0, x0, 0                          # also assembled as c.nop
        # ---- quadrant 2: full register set
        li t0, 1
        c.slli t0, 63
        CHECK 24, t0, 0x8000000000000000
        li t1, 0x0123456789abcdef
        c.slli t1, 8
        CHECK 25, t1, 0x23456789abcdef00
        li t2, 0x55
        c.mv t3, t2
        CHECK 26, t3, 0x55
        li t2, 0x1111
        li t3, 0x2222
        c.add t3, t2
        CHECK 27, t3, 0x3333
        c.li s4, 7
        c.add s4, s4
        CHECK 28, s4, 14

        # ---- stack-pointer-based forms
        mv s2, sp
        c.addi16sp sp, -64
        addi a0, s2, -64
        CHECK_REG 29, sp, a0
        c.addi4spn a2, sp, 8
        addi a0, sp, 8
        CHECK_REG 30, a2, a0
        c.addi4spn a3, sp, 1020
        addi a0, sp, 1020
        CHECK_REG 31, a3, a0
        li a0, 0x1122334455667788
        c.sdsp a0, 0(sp)
        c.sdsp zero, 8(sp)
        li a1, 0xcafef00d
        c.swsp a1, 12(sp)
        c.ldsp t4, 0(sp)
        CHECK 32, t4, 0x1122334455667788
        c.lwsp t4, 12(sp)
        CHECK 33, t4, 0xffffffffcafef00d
        ld a0, 8(sp)
        CHECK 34, a0, 0xcafef00d00000000         # c.swsp wrote only bytes 12..15
        li a0, 0x400921fb54442d18                   # pi
        fmv.d.x fa0, a0
        c.fsdsp fa0, 16(sp)
        c.fldsp ft1, 16(sp)
        CHECK_D 35, ft1, 0x400921fb54442d18
        c.addi16sp sp, 64
        CHECK_REG 36, sp, s2
        c.addi16sp sp, -512
        addi a0, s2, -512
        CHECK_REG 37, sp, a0
        c.addi16sp sp, 496
        c.addi sp, 16
        CHECK_REG 38, sp, s2

        # ---- register-based loads and stores (x8..x15)
        la s0, buf
        li a0, 0xa5a5a5a5a5a5a5a5
        c.sd a0, 8(s0)
        li a1, 0x89abcdef
        c.sw a1, 4(s0)
        c.ld a2, 8(s0)
        CHECK 39, a2, 0xa5a5a5a5a5a5a5a5
        c.lw a3, 4(s0)
        CHECK 40, a3, 0xffffffff89abcdef
        FULL lw a4, 4(s0)
        CHECK_REG 41, a3, a4
        c.ld a5, 0(s0)
        CHECK 42, a5, 0x89abcdef00000000
        li a0, 0x3ff0000000000000                   # 1.0
        fmv.d.x fa1, a0
        c.fsd fa1, 16(s0)
        c.fld fa2, 16(s0)
        CHECK_D 43, fa2, 0x3ff0000000000000
        addi s1, s0, 248
        c.sd a0, 0(s1)
        c.ld a1, 0(s1)
        CHECK_REG 44, a1, a0
        c.sw a0, 124(s0)
        c.lw a1, 124(s0)
        CHECK 45, a1, 0

        # ---- control transfer: lengths and links are 2 bytes
c_nop_start:
        c.nop
c_nop_end:
        la a0, c_nop_start
        la a1, c_nop_end
        sub a0, a1, a0
        CHECK 46, a0, 2
        c.j 1f
        FAIL_NOW 47
1:      c.li a0, 0
        c.beqz a0, 2f
        FAIL_NOW 48
2:      c.bnez a0, 3f
        c.li a0, 1
        c.bnez a0, 4f
3:      FAIL_NOW 49
4:      c.beqz a0, 3b
        la t0, cj_target
        c.jr t0
        FAIL_NOW 50
cj_target:
        la t0, cjalr_target
cjalr_at:
        c.jalr t0                               # ra = address + 2
        FAIL_NOW 51
cjalr_target:
        la a0, cjalr_at + 2
        CHECK_REG 52, ra, a0
        # a backward c.j and a 2-byte-aligned loop
        c.li a0, 0
        c.li a1, 5
5:      c.addi a0, 2
        c.addi a1, -1
        c.bnez a1, 5b
        CHECK 53, a0, 10
        # a jump to a 2-byte aligned (not 4-byte aligned) target
        la t0, odd_target
        andi t1, t0, 3
        CHECK 54, t1, 2
        c.li a0, 0
        jalr x0, 0(t0)
        FAIL_NOW 55
        .align 2
        c.nop
odd_target:
        c.li a0, 9
        CHECK 56, a0, 9

        # ---- traps: c.ebreak, and the all-zero halfword is illegal
        TRY_ARM 6f
ebreak_at:
        c.ebreak
        TRY_DISARM
6:      CHECK_TRAP 57, CAUSE_BREAKPOINT
        CHECK_EPC 58, ebreak_at
illegal_at:
        TRY .2byte 0
        CHECK_TRAP 59, CAUSE_ILLEGAL
        CHECK_TVAL 60, 0
        PASS

        .data
        .align 4
buf:    .fill 32, 8, 0

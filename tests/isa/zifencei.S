# Zifencei: self-modifying code. A store of a new instruction followed by
# FENCE.I is seen by the next fetch: in a called function (repeatedly, and
# after it has run many times), later in the straight-line code that is
# running, for a compressed instruction, and for two instructions written by
# one doubleword store.
        .include "common.S"

        .equ ADDI_A0_X0, 0x00000513             # addi a0, x0, 0; imm in bits 31:20

test_main:
        # a function returning a constant, patched ten times
        la s0, patch_fn
        jal ra, patch_fn
        CHECK 1, a0, 1
        li s1, 0
        li s2, 10
1:      slli t0, s1, 20
        li t1, ADDI_A0_X0
        or t0, t0, t1
        sw t0, 0(s0)                            # addi a0, x0, s1
        fence.i
        jal ra, patch_fn
        bne a0, s1, 2f
        addi s1, s1, 1
        bne s1, s2, 1b
        j 3f
2:      FAIL_NOW 2
3:
        # hot code: run it many times, then patch it
        li s1, 2000
4:      jal ra, patch_fn
        addi s1, s1, -1
        bnez s1, 4b
        CHECK 3, a0, 9
        li t0, ADDI_A0_X0 | (123 << 20)
        sw t0, 0(s0)
        fence.i
        jal ra, patch_fn
        CHECK 4, a0, 123

        # patch an instruction further down the code that is running now
        la t0, ahead
        li t1, ADDI_A0_X0 | (7 << 20)
        sw t1, 0(t0)
        fence.i
ahead:  addi a0, x0, 3
        CHECK 5, a0, 7

        # the same inside a loop: each iteration rewrites the instruction
        # the next iteration executes
        li s1, 1
        li s3, 0
5:      slli t1, s1, 20
        li t0, ADDI_A0_X0
        or t1, t1, t0
        la t0, in_loop
        sw t1, 0(t0)
        fence.i
in_loop:
        addi a0, x0, 0
        add s3, s3, a0
        addi s1, s1, 1
        li t0, 6
        bne s1, t0, 5b
        CHECK 6, s3, 15                         # 1 + 2 + 3 + 4 + 5

        # a compressed instruction: c.li a0, imm
        la t0, c_patch
        li t1, 0x4519                           # c.li a0, 6
        sh t1, 0(t0)
        fence.i
        jal ra, c_patch
        CHECK 7, a0, 6

        # two instructions replaced by one doubleword store
        la t0, pair_fn
        li t1, (0x00a50513 << 32) | (ADDI_A0_X0 | (5 << 20))   # addi a0,x0,5 ; addi a0,a0,10
        sd t1, 0(t0)
        fence.i
        jal ra, pair_fn
        CHECK 8, a0, 15
        PASS

        .section .patchable, "awx", @progbits  # code that is rewritten
        .align 12
patch_fn:
        addi a0, x0, 1
        ret
        .align 3
c_patch:
        .option push
        .option rvc
        c.li a0, 5
        c.jr ra
        .option pop
        .align 3
pair_fn:
        addi a0, x0, 1
        addi a0, a0, 1
        ret

# RV64I loads and stores: every width with sign and zero extension, little-
# endian byte order, positive and negative offsets, stores that change only
# their own bytes, rd = base, loads to x0, FENCE. Misaligned loads and stores
# (within a doubleword, across doublewords, across a page) are performed, not
# trapped, on this platform (as on QEMU; the spec also allows a trap).
        .include "common.S"

.macro LOAD n, op, off, expect
  \op a0, \off(s0)
  CHECK \n, a0, \expect
.endm

test_main:
        la s0, pat
        # aligned loads, sign and zero extension
        LOAD  1, lb,  1, 0xffffffffffffff80
        LOAD  2, lbu, 1, 0x80
        LOAD  3, lb,  2, 0x7f
        LOAD  4, lbu, 3, 0xff
        LOAD  5, lb,  3, -1
        LOAD  6, lh,  0, 0xffffffffffff8000
        LOAD  7, lhu, 0, 0x8000
        LOAD  8, lh,  2, 0xffffffffffffff7f
        LOAD  9, lh,  4, 0xfffffffffffffe01
        LOAD 10, lhu, 6, 0x3412
        LOAD 11, lw,  0, 0xffffffffff7f8000
        LOAD 12, lwu, 0, 0xff7f8000
        LOAD 13, lw,  4, 0x3412fe01
        LOAD 14, lwu, 12, 0x7788f0de
        LOAD 15, lw,  8, 0xffffffffbc9a7856
        LOAD 16, ld,  0, 0x3412fe01ff7f8000
        LOAD 17, ld,  8, 0x7788f0debc9a7856
        # negative offsets
        addi s1, s0, 16
        lbu a0, -16(s1)
        CHECK 18, a0, 0x00
        ld a0, -8(s1)
        CHECK 19, a0, 0x7788f0debc9a7856
        lh a0, -2(s1)
        CHECK 20, a0, 0x7788

        # misaligned loads (performed)
        LOAD 21, lh,  1, 0x7f80
        LOAD 22, lh,  3, 0x01ff
        LOAD 23, lh,  5, 0x12fe
        LOAD 24, lhu, 7, 0x5634                 # crosses a doubleword
        LOAD 25, lh,  13, 0xffffffffffff88f0
        LOAD 26, lw,  1, 0x01ff7f80
        LOAD 27, lw,  3, 0x12fe01ff
        LOAD 28, lw,  5, 0x563412fe             # crosses a doubleword
        LOAD 29, lw,  6, 0x78563412
        LOAD 30, lw,  2, 0xfffffffffe01ff7f
        LOAD 31, lwu, 2, 0xfe01ff7f
        LOAD 32, lwu, 7, 0x9a785634
        LOAD 33, ld,  1, 0x563412fe01ff7f80
        LOAD 34, ld,  4, 0xbc9a78563412fe01
        LOAD 35, ld,  7, 0x88f0debc9a785634

        # rd = base
        la a1, pat + 8
        ld a1, 0(a1)
        CHECK 36, a1, 0x7788f0debc9a7856
        # a load into x0 is performed and discarded
        ld x0, 0(s0)
        lbu x0, 1(s0)
        mv a0, x0
        CHECK 37, a0, 0

        # stores write only their own bytes
        la s1, scratch
        li a2, -1
        li a3, 0x0123456789abcdef
        sd a2, 0(s1)
        sd a2, 8(s1)
        sb a3, 0(s1)
        ld a0, 0(s1)
        CHECK 38, a0, 0xffffffffffffffef
        sh a3, 2(s1)
        ld a0, 0(s1)
        CHECK 39, a0, 0xffffffffcdefffef
        sw a3, 4(s1)
        ld a0, 0(s1)
        CHECK 40, a0, 0x89abcdefcdefffef
        sd a3, 8(s1)
        ld a0, 8(s1)
        CHECK 41, a0, 0x0123456789abcdef
        sb zero, 15(s1)                         # x0 as data
        ld a0, 8(s1)
        CHECK 42, a0, 0x0023456789abcdef
        addi s2, s1, 16
        sw a3, -12(s2)                          # negative offset
        ld a0, 0(s1)
        CHECK 43, a0, 0x89abcdefcdefffef
        sh zero, -10(s2)
        ld a0, 0(s1)
        CHECK 44, a0, 0x0000cdefcdefffef
        # little-endian: a doubleword store read back bytewise
        li a3, 0x8877665544332211
        sd a3, 16(s1)
        lbu a0, 16(s1)
        CHECK 45, a0, 0x11
        lbu a0, 23(s1)
        CHECK 46, a0, 0x88
        lb a0, 23(s1)
        CHECK 47, a0, 0xffffffffffffff88
        lhu a0, 18(s1)
        CHECK 48, a0, 0x4433

        # misaligned stores (performed)
        sd zero, 0(s1)
        sd zero, 8(s1)
        li a3, 0x0123456789abcdef
        sh a3, 1(s1)
        ld a0, 0(s1)
        CHECK 49, a0, 0x0000000000cdef00
        sw a3, 5(s1)                            # crosses a doubleword
        ld a0, 0(s1)
        CHECK 50, a0, 0xabcdef0000cdef00
        ld a0, 8(s1)
        CHECK 51, a0, 0x0000000000000089
        sd a3, 9(s1)
        ld a0, 8(s1)
        CHECK 52, a0, 0x23456789abcdef89
        ld a0, 9(s1)
        CHECK 53, a0, 0x0123456789abcdef
        sh a3, 15(s1)                           # crosses a doubleword
        lhu a0, 15(s1)
        CHECK 54, a0, 0xcdef
        ld a0, 8(s1)
        CHECK 55, a0, 0xef456789abcdef89

        # misaligned doubleword and word across a 4 KiB page boundary
        la s2, pages + 4096
        li a3, 0x1122334455667788
        sd a3, -3(s2)
        ld a0, -8(s2)
        CHECK 56, a0, 0x6677880000000000
        ld a0, 0(s2)
        CHECK 57, a0, 0x0000001122334455
        ld a0, -3(s2)
        CHECK 58, a0, 0x1122334455667788
        lw a0, -1(s2)
        CHECK 59, a0, 0x33445566
        li a3, 0xa1b2c3d4
        sw a3, -2(s2)
        lwu a0, -2(s2)
        CHECK 60, a0, 0xa1b2c3d4
        lh a0, -1(s2)
        CHECK 61, a0, 0xffffffffffffb2c3

        # FENCE forms order memory; they change no register or memory
        li a0, 77
        fence
        fence rw, rw
        fence.tso
        fence w, r
        fence iorw, iorw
        CHECK 62, a0, 77
        ld a0, 9(s1)
        CHECK 63, a0, 0xcdef456789abcdef        # the values stored above, unchanged
        PASS

        .data
        .align 4
pat:    .byte 0x00, 0x80, 0x7f, 0xff, 0x01, 0xfe, 0x12, 0x34
        .byte 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x88, 0x77

        .bss
        .align 4
scratch: .skip 64
        .align 12
pages:  .skip 8192

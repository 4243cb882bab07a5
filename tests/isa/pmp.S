# Physical memory protection: NAPOT, TOR and NA4 regions restricting S- and
# U-mode loads, stores and fetches (access faults 5/7/1, tval = the address);
# the lowest-numbered matching entry wins; an access only partly inside an
# entry fails; S/U accesses that match no entry fail while M-mode ones
# succeed; unlocked entries do not restrict M-mode, but do with MPRV; a
# locked entry restricts M-mode too and ignores later writes to its
# configuration and address.
        .set FAIL_VIA_ECALL, 1
        .include "common.S"

        .equ RAM_SIZE, 64 << 20

# reg = pmpaddr value of a naturally aligned region (size >= 8) at sym
.macro NAPOT reg, sym, size
  la \reg, \sym
  srli \reg, \reg, 2
  ori \reg, \reg, ((\size) / 8 - 1)
.endm

test_main:
        # entry 0: pdata, R          entry 1: pcode, RW (no X)
        # entry 2: pdata2 (TOR base) entry 3: TOR up to pdata3, nothing allowed
        # entry 4: NA4 at pdata3 + 8, nothing allowed
        # entry 7: all of RAM, RWX (devices are in no entry)
        NAPOT t0, pdata, 4096
        csrw pmpaddr0, t0
        NAPOT t0, pcode, 4096
        csrw pmpaddr1, t0
        la t0, pdata2
        srli t0, t0, 2
        csrw pmpaddr2, t0
        la t0, pdata3
        srli t0, t0, 2
        csrw pmpaddr3, t0
        la t0, pdata3 + 8
        srli t0, t0, 2
        csrw pmpaddr4, t0
        li t0, (RAM_BASE >> 2) | (RAM_SIZE / 8 - 1)
        csrw pmpaddr7, t0
        li t0, (PMP_NAPOT | PMP_R) | ((PMP_NAPOT | PMP_R | PMP_W) << 8) | (PMP_TOR << 24) | (PMP_NA4 << 32) | ((PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56)
        csrw pmpcfg0, t0
        csrr a0, pmpcfg0
        CHECK_REG 1, a0, t0                     # every field written as given
        csrr a0, pmpaddr3
        la t0, pdata3
        srli t0, t0, 2
        CHECK_REG 2, a0, t0

        # ---- S-mode
        GOTO_MODE PRV_S
        la s0, pdata
        ld a0, 0(s0)
        CHECK 3, a0, 0x1234
        TRY sd a0, 8(s0)
        CHECK_TRAP 4, CAUSE_STORE_ACCESS
        addi a1, s0, 8
        CHECK_TVAL_REG 5, a1
        la s1, pcode
        TRY jalr ra, 0(s1)
        CHECK_TRAP 6, CAUSE_FETCH_ACCESS
        CHECK_TVAL_REG 7, s1
        lw a0, 0(s1)                            # readable, not executable
        CHECK 8, a0, 0x07700513
        sw a0, 8(s1)                            # and writable
        la s2, pdata2
        TRY ld a0, 16(s2)                       # inside the TOR range
        CHECK_TRAP 9, CAUSE_LOAD_ACCESS
        addi a1, s2, 16
        CHECK_TVAL_REG 10, a1
        li t0, 4095
        add a1, s2, t0
        TRY sb a0, 0(a1)                        # the last byte of the range
        CHECK_TRAP 11, CAUSE_STORE_ACCESS
        la s3, pdata3                           # just past the TOR range
        ld a0, 0(s3)
        CHECK 12, a0, 0x5678
        TRY lw a0, 8(s3)                        # the NA4 word
        CHECK_TRAP 13, CAUSE_LOAD_ACCESS
        addi a1, s3, 8
        CHECK_TVAL_REG 14, a1
        TRY lh a0, 10(s3)
        CHECK_TRAP 15, CAUSE_LOAD_ACCESS
        lw a0, 4(s3)                            # the words around it are fine
        lw a0, 12(s3)
        TRY ld a0, 8(s3)                        # partly inside the NA4 entry: fails
        CHECK_TRAP 16, CAUSE_LOAD_ACCESS
        li s4, UART0                            # in no entry: fails for S
        TRY lbu a0, 5(s4)
        CHECK_TRAP 17, CAUSE_LOAD_ACCESS
        CHECK_TVAL 18, UART0 + 5
        GOTO_M

        # ---- U-mode: the same rules
        GOTO_MODE PRV_U
        ld a0, 0(s0)
        TRY sd a0, 0(s0)
        mv s5, t5
        TRY ld a0, 0(s2)
        mv s6, t5
        TRY jalr ra, 0(s1)
        mv s7, t5
        GOTO_M
        CHECK 19, s5, CAUSE_STORE_ACCESS
        CHECK 20, s6, CAUSE_LOAD_ACCESS
        CHECK 21, s7, CAUSE_FETCH_ACCESS
        CHECK_RECORD 22, TR_FROM, PRV_U

        # ---- M-mode: unlocked entries do not apply, no match means allowed
        li a0, 0x4321
        sd a0, 8(s0)
        ld a0, 8(s0)
        CHECK 23, a0, 0x4321
        sd a0, 0(s2)
        li a0, 0
        jalr ra, 0(s1)                          # pcode: a0 = 0x77
        CHECK 24, a0, 0x77
        lbu a0, 5(s4)                           # the UART's line status register
        # ... but MPRV makes loads and stores use MPP's privilege
        li t0, MSTATUS_MPP
        csrc mstatus, t0
        li t0, MSTATUS_MPRV                     # MPP = U
        csrs mstatus, t0
        TRY sd a0, 0(s0)
        li t0, MSTATUS_MPRV
        csrc mstatus, t0
        CHECK_TRAP 25, CAUSE_STORE_ACCESS
        CHECK_RECORD 26, TR_FROM, PRV_M

        # ---- a locked entry applies to M-mode and cannot be changed
        la s8, plock
        li a0, 0x99
        sd a0, 0(s8)
        NAPOT t0, plock, 4096
        csrw pmpaddr5, t0
        li t0, (PMP_L | PMP_NAPOT | PMP_R) << 40
        csrs pmpcfg0, t0
        ld a0, 0(s8)
        CHECK 27, a0, 0x99
        TRY sd a0, 8(s8)
        CHECK_TRAP 28, CAUSE_STORE_ACCESS
        addi a1, s8, 8
        CHECK_TVAL_REG 29, a1
        TRY jalr ra, 0(s8)
        CHECK_TRAP 30, CAUSE_FETCH_ACCESS
        csrr s9, pmpcfg0
        li t0, 0xff << 40                       # try to unlock / widen it
        csrc pmpcfg0, t0
        li t0, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 40
        csrs pmpcfg0, t0
        csrr a0, pmpcfg0
        CHECK_REG 31, a0, s9
        csrr s10, pmpaddr5
        li t0, -1
        csrw pmpaddr5, t0
        csrr a0, pmpaddr5
        CHECK_REG 32, a0, s10
        TRY sd a0, 0(s8)
        CHECK_TRAP 33, CAUSE_STORE_ACCESS
        # the other entries stay writable
        li t0, 0xff
        csrc pmpcfg0, t0                        # entry 0 off: pdata now matches entry 7
        csrr a0, pmpcfg0
        andi a0, a0, 0xff
        CHECK 34, a0, 0
        GOTO_MODE PRV_S
        TRY sd a0, 0(s0)
        GOTO_M
        CHECK_NO_TRAP 35
        PASS

        .section .text.pcode, "ax", @progbits
        .align 12
pcode:  addi a0, x0, 0x77
        ret
        .align 12

        .data
        .align 12
pdata:  .dword 0x1234
        .align 12
pdata2: .dword 0
        .align 12
pdata3: .dword 0x5678, 0
        .align 12
plock:  .dword 0
        .align 12

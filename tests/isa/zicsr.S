# Zicsr: CSRRW/CSRRS/CSRRC and the immediate forms (old value to rd, new
# value written, 5-bit zero-extended immediates, rd = rs1), the x0 rules
# (CSRRS/CSRRC with rs1 = x0 or uimm = 0 do not write, so they read even a
# read-only CSR; with any other rs1, even one holding zero, they write and a
# read-only CSR traps), writes to read-only CSRs and accesses to unimplemented
# CSRs raising illegal instruction, and sstatus as a view of mstatus.
        .include "common.S"

# After TRY: illegal instruction, and mtval is 0 or the instruction's bits
# (the spec allows either).
.macro CHECK_ILLEGAL n, bits
  CHECK_TRAP \n, CAUSE_ILLEGAL
  __CHECKNUM (\n + 1)
  beqz t6, .Lok\@
  li t5, \bits
  beq t6, t5, .Lok\@
  li a0, (\n + 1)
  j fail
.Lok\@:
.endm

# The same for CSRRS/CSRRC with rs1 != x0 holding zero, which must trap.
# QEMU 7.2 decides from the register's value instead of from rs1 = x0, so a
# zero value neither writes nor traps there; QEMU_QUIRKS accepts that too.
.macro CHECK_ILLEGAL_RS1_ZERO n, bits
.ifdef QEMU_QUIRKS
  addi t5, t5, 1
  bnez t5, .Ltrapped\@
  __CHECKNUM \n
  __CHECKNUM (\n + 1)
  j .Ldone\@
.Ltrapped\@:
  addi t5, t5, -1
  .set __check_last, (\n) - 1                  # the same numbers on this path
  CHECK_ILLEGAL \n, \bits
.Ldone\@:
.else
  CHECK_ILLEGAL \n, \bits
.endif
.endm

test_main:
        # CSRRW: rd = old value, csr = rs1
        li a1, 0x0123456789abcdef
        csrw sscratch, a1
        li a2, -1
        csrrw a0, sscratch, a2
        CHECK 1, a0, 0x0123456789abcdef
        CHECK_CSR 2, sscratch, -1
        li a0, 0x55
        csrrw a0, sscratch, a0                  # rd = rs1: a swap
        CHECK 3, a0, -1
        CHECK_CSR 4, sscratch, 0x55
        csrrw x0, sscratch, zero                # csrw
        CHECK_CSR 5, sscratch, 0
        # CSRRS / CSRRC
        li a1, 0xf0f0
        csrrs a0, sscratch, a1
        CHECK 6, a0, 0
        li a1, 0x0ff0
        csrrs a0, sscratch, a1
        CHECK 7, a0, 0xf0f0
        CHECK_CSR 8, sscratch, 0xfff0
        li a1, 0x8000000000000f00
        csrrc a0, sscratch, a1
        CHECK 9, a0, 0xfff0
        CHECK_CSR 10, sscratch, 0xf0f0
        li a1, 0x8000000000000000
        csrs sscratch, a1
        CHECK_CSR 11, sscratch, 0x800000000000f0f0
        csrrs a0, sscratch, x0                  # csrr
        CHECK 12, a0, 0x800000000000f0f0
        csrrc a0, sscratch, x0
        CHECK 13, a0, 0x800000000000f0f0
        CHECK_CSR 14, sscratch, 0x800000000000f0f0
        # immediate forms: 5-bit zero-extended
        csrrwi a0, sscratch, 31
        CHECK 15, a0, 0x800000000000f0f0
        CHECK_CSR 16, sscratch, 31
        csrrci a0, sscratch, 0x11
        CHECK 17, a0, 31
        CHECK_CSR 18, sscratch, 0x0e
        csrrsi a0, sscratch, 0x10
        CHECK 19, a0, 0x0e
        CHECK_CSR 20, sscratch, 0x1e
        csrrsi a0, sscratch, 0
        CHECK 21, a0, 0x1e
        csrrci a0, sscratch, 0
        CHECK_CSR 22, sscratch, 0x1e
        csrwi sscratch, 0
        CHECK_CSR 23, sscratch, 0
        # mscratch (the M handler's pointer: restored before any trap)
        csrr s0, mscratch
        li a1, 0xfedcba9876543210
        csrrw a0, mscratch, a1
        CHECK_REG 24, a0, s0
        csrr a0, mscratch
        csrw mscratch, s0
        CHECK 25, a0, 0xfedcba9876543210

        # read-only CSRs: reading with rs1 = x0 / uimm = 0 is fine
        csrr a0, mhartid
        CHECK 26, a0, 0
        csrrs a0, mvendorid, x0
        csrrc a0, marchid, x0
        csrrsi a0, mimpid, 0
        csrrci a0, mhartid, 0
        CHECK 27, a0, 0
        # writes to read-only CSRs trap
        li a1, 0
        TRY csrw mhartid, a1
        CHECK_ILLEGAL 28, 0xf1459073            # csrrw x0, mhartid, a1
        TRY csrrs a0, mhartid, a1               # rs1 != x0 writes, even a zero value
        CHECK_ILLEGAL_RS1_ZERO 30, 0xf145a573
        TRY csrrc a0, mvendorid, a1
        CHECK_ILLEGAL_RS1_ZERO 32, 0xf115b573
        TRY csrrsi a0, mhartid, 1
        CHECK_ILLEGAL 34, 0xf140e573
        TRY csrrwi a0, marchid, 0               # csrrwi always writes
        CHECK_ILLEGAL 36, 0xf1205573
        TRY csrrw x0, mimpid, x0
        CHECK_ILLEGAL 38, 0xf1301073
        # a trapping CSR instruction does not write rd
        li a0, 0x77
        TRY csrrw a0, mhartid, zero
        CHECK_TRAP 40, CAUSE_ILLEGAL
        CHECK 41, a0, 0x77
        # unimplemented CSRs trap on any access
        TRY csrr a0, 0x7ff
        CHECK_ILLEGAL 42, 0x7ff02573
        TRY csrw 0x8ff, a1
        CHECK_ILLEGAL 44, 0x8ff59073
        TRY csrrs a0, 0x5ff, x0
        CHECK_ILLEGAL 46, 0x5ff02573
        # the epc of a CSR trap is the CSR instruction
        TRY_ARM 1f
csr_trap_at:
        csrw mvendorid, zero
        TRY_DISARM
1:      CHECK_TRAP 48, CAUSE_ILLEGAL
        CHECK_EPC 49, csr_trap_at
        CHECK_RECORD 50, TR_FROM, PRV_M

        # sstatus is a view of mstatus
        li a1, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
        csrc mstatus, a1
        csrs sstatus, a1
        CHECK_CSR_MASK 51, mstatus, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
        csrc mstatus, a1
        CHECK_CSR_MASK 52, sstatus, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP, 0
        li a1, MSTATUS_MPIE | MSTATUS_MIE
        csrs mstatus, a1
        CHECK_CSR_MASK 53, sstatus, MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR, 0
        csrc mstatus, a1
        li a1, MSTATUS_MPP                      # M-only fields are not writable through sstatus
        csrs mstatus, a1
        csrc sstatus, a1
        CHECK_CSR_MASK 54, mstatus, MSTATUS_MPP, MSTATUS_MPP
        csrc mstatus, a1
        csrs sstatus, a1
        CHECK_CSR_MASK 55, mstatus, MSTATUS_MPP, 0
        li a1, MSTATUS_MPP
        csrs mstatus, a1
        # mstatus.UXL/SXL: XLEN 64 in every mode (read-only 2 here)
        CHECK_CSR_MASK 56, mstatus, 0xf00000000, 0xa00000000
        CHECK_CSR_MASK 57, sstatus, 0x300000000, 0x200000000
        PASS

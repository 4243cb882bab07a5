# Boot contract and identity: the program starts in M-mode at its ELF entry
# with a0 = hart id (= mhartid) and a1 = the address of a flattened device
# tree in RAM (magic 0xd00dfeed, big-endian header); misa says RV64 with
# I, M, A, F, D, C, S and U; the hart id and ID CSRs are readable.
        .include "common.S"

test_main:
        csrr a2, mhartid
        CHECK_REG 1, a0, a2
        CHECK 2, a0, 0
        # the device tree: in RAM, 8-byte aligned, valid header
        li t0, RAM_BASE
        sltu a2, a1, t0
        CHECK 3, a2, 0
        li t0, RAM_BASE + (64 << 20)
        sltu a2, a1, t0
        CHECK 4, a2, 1
        andi a2, a1, 7
        CHECK 5, a2, 0
        lwu a2, 0(a1)
        CHECK 6, a2, 0xedfe0dd0                 # d0 0d fe ed in memory
        lbu a2, 20(a1)                          # version (big-endian word at 20)
        lbu a3, 21(a1)
        or a2, a2, a3
        lbu a3, 22(a1)
        or a2, a2, a3
        CHECK 7, a2, 0                          # version < 256
        lbu a2, 23(a1)
        sltiu a3, a2, 16
        CHECK 8, a3, 0                          # version 16 or 17
        sltiu a3, a2, 18
        CHECK 9, a3, 1
        lbu a2, 4(a1)                           # totalsize < 16 MiB
        CHECK 10, a2, 0
        # misa: MXL = 2 (64-bit), the extensions of RV64GC with S and U
        csrr a2, misa
        srli a3, a2, 62
        CHECK 11, a3, 2
        .equ EXT, (1 << ('I' - 'A')) | (1 << ('M' - 'A')) | (1 << ('A' - 'A')) | (1 << ('F' - 'A')) | (1 << ('D' - 'A')) | (1 << ('C' - 'A')) | (1 << ('S' - 'A')) | (1 << ('U' - 'A'))
        li t0, EXT
        and a3, a2, t0
        CHECK 12, a3, EXT
        andi a3, a2, 1 << ('E' - 'A')
        CHECK 13, a3, 0
        # ID CSRs exist (values are the implementation's)
        csrr a2, mvendorid
        csrr a2, marchid
        csrr a2, mimpid
        # mtvec holds what was written (direct mode)
        la a2, m_trap_vector
        csrr a3, mtvec
        CHECK_REG 14, a2, a3
        PASS

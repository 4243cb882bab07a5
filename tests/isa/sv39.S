# Sv39 paging, in S- and U-mode: translation through gigapages, megapages
# and 4 KiB pages (identity and aliases, upper half of the address space);
# load/store/fetch page faults (causes 13/15/12, stval = the virtual address)
# for invalid, read-only, write-only, non-leaf-at-level-0, misaligned-superpage
# and non-canonical addresses; hardware-updated A and D bits; MXR and SUM; U
# pages never executable from S; S pages not usable from U; SFENCE.VMA after a
# PTE change; satp WARL behaviour; page faults delegated to S; MPRV in M-mode.
# The body is shared with sv48.S: see paging.inc.
        .set FAIL_VIA_ECALL, 1
        .set SV48, 0
        .include "common.S"
        .include "paging.inc"

# Sv48 paging: the checks of sv39.S through a four-level table, plus a
# 512 GiB page, a misaligned one, Sv48's canonical-address rule (bits 63:48
# equal bit 47), and an address that is non-canonical in Sv39 but valid here.
# The body is shared with sv39.S: see paging.inc.
        .set FAIL_VIA_ECALL, 1
        .set SV48, 1
        .include "common.S"
        .include "paging.inc"

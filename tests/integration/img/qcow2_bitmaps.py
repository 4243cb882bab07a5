#!/usr/bin/env python3
"""Prints the persistent dirty bitmaps of a qcow2 image, one line each:
name, flags, granularity, the offsets of the set bits' first bytes (runs
merged) -- read straight from the file after the qcow2 spec ("Bitmaps"), so
that the bitmaps two tools wrote can be compared bit for bit. A first line
says whether the autoclear bitmaps bit and the extension are there.

    qcow2_bitmaps.py IMAGE
"""
import struct
import sys

BITMAPS_EXT = 0x23852875


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    cluster_bits, = struct.unpack_from(">I", data, 20)
    size, = struct.unpack_from(">Q", data, 24)
    version, = struct.unpack_from(">I", data, 4)
    cs = 1 << cluster_bits
    autoclear = struct.unpack_from(">Q", data, 88)[0] if version >= 3 else 0
    pos = struct.unpack_from(">I", data, 100)[0] if version >= 3 else 72
    ext = None
    while pos + 8 <= cs:
        kind, length = struct.unpack_from(">II", data, pos)
        if kind == 0:
            break
        if kind == BITMAPS_EXT:
            ext = struct.unpack_from(">IIQQ", data, pos + 8)
        pos += 8 + (length + 7) // 8 * 8
    print(f"autoclear bitmaps bit {autoclear & 1}, extension {'yes' if ext else 'no'}")
    if not ext:
        return
    count, _, dir_size, dir_offset = ext
    pos = dir_offset
    for _ in range(count):
        table_offset, table_size, flags, _, gran_bits, name_size, extra = struct.unpack_from(
            ">QIIBBHI", data, pos)
        name = data[pos + 24 + extra:pos + 24 + extra + name_size].decode()
        pos += (24 + extra + name_size + 7) // 8 * 8
        gran = 1 << gran_bits
        bits = bytearray()
        for i in range(table_size):
            entry, = struct.unpack_from(">Q", data, table_offset + i * 8)
            offset = entry & 0x00fffffffffffe00
            if offset:
                bits += data[offset:offset + cs].ljust(cs, b"\0")
            else:
                bits += (b"\xff" if entry & 1 else b"\0") * cs
        runs = []
        for k in range((size + gran - 1) // gran):
            if bits[k // 8] >> (k % 8) & 1:
                if runs and runs[-1][1] == k * gran:
                    runs[-1][1] = (k + 1) * gran
                else:
                    runs.append([k * gran, (k + 1) * gran])
        spans = " ".join(f"{a:#x}-{b:#x}" for a, b in runs) or "clear"
        print(f"{name} flags={flags:#x} granularity={gran} {spans}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Rewrites every snapshot table entry of a qcow2 image with no extra data,
as old version 2 writers left them (qcow2 spec, "Snapshot table entry":
extra_data_size at byte 36). Usage: strip_snapshot_extra.py IMAGE"""
import struct
import sys

with open(sys.argv[1], "r+b") as f:
    header = f.read(72)
    count, offset = struct.unpack(">IQ", header[60:72])
    entries, pos = [], offset
    for _ in range(count):
        f.seek(pos)
        fixed = f.read(40)
        id_size, name_size = struct.unpack(">HH", fixed[12:16])
        extra = struct.unpack(">I", fixed[36:40])[0]
        rest = f.read(extra + id_size + name_size)
        entry = fixed[:36] + struct.pack(">I", 0) + rest[extra:]
        entries.append(entry + b"\0" * (-len(entry) % 8))
        pos += (40 + extra + id_size + name_size + 7) // 8 * 8
    f.seek(offset)
    f.write(b"".join(entries))

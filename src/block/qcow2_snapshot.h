// The qcow2 internal snapshot table ("== Snapshots ==" in the qcow2 spec):
// reading and validating it, and encoding it the way QEMU writes it. Creating,
// applying and deleting snapshots is Qcow2Image's (qcow2_snapshot_ops.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "block/host_file.h"
#include "block/qcow2_header.h"

namespace vessel::block {

struct Qcow2Snapshot {
  uint64_t l1_table_offset = 0;
  uint32_t l1_size = 0;
  std::string id;
  std::string name;
  uint32_t date_sec = 0;
  uint32_t date_nsec = 0;
  uint64_t vm_clock_nsec = 0;
  uint64_t vm_state_size = 0;
  // The guest disk size when the snapshot was taken; the image's current size
  // when the entry does not record it (as QEMU assumes).
  uint64_t disk_size = 0;
  // Instruction count; -1 when the entry does not record it.
  int64_t icount = -1;
  // Extra data past the three fields known here, kept as is on rewrite.
  std::vector<uint8_t> unknown_extra;
  // Bytes of extra data the entry has in the file (a rewrite writes all of
  // the known fields and the unknown ones).
  uint32_t extra_data_size = 0;
};

struct Qcow2SnapshotTable {
  std::vector<Qcow2Snapshot> snapshots;
  uint64_t table_bytes = 0;  // bytes the table occupies from header.snapshots_offset
};

// Reads header.nb_snapshots entries at header.snapshots_offset. Each entry and
// each snapshot's L1 table must be in bounds and cluster-aligned.
Result<Qcow2SnapshotTable> read_qcow2_snapshots(const HostFile& file, const Qcow2Header& header);

// The table as QEMU writes it: every entry with 24 bytes of extra data
// (vm_state_size_large, disk_size, icount) plus any unknown extra data, each
// entry starting 8-byte aligned, the last one unpadded. Fails when the table
// would exceed the size QEMU accepts.
Result<std::vector<uint8_t>> encode_qcow2_snapshots(const std::vector<Qcow2Snapshot>& snapshots);

}  // namespace vessel::block

// The qcow2 internal snapshot table ("== Snapshots ==" in the qcow2 spec).
// This step only reads and validates it, so images that have snapshots open
// safely and keep them; creating, applying and deleting snapshots come later.
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
  uint64_t vm_state_size = 0;
  uint64_t disk_size = 0;  // 0 when the entry does not record it (version 2)
};

struct Qcow2SnapshotTable {
  std::vector<Qcow2Snapshot> snapshots;
  uint64_t table_bytes = 0;  // bytes the table occupies from header.snapshots_offset
};

// Reads header.nb_snapshots entries at header.snapshots_offset. Each entry and
// each snapshot's L1 table must be in bounds and cluster-aligned.
Result<Qcow2SnapshotTable> read_qcow2_snapshots(const HostFile& file, const Qcow2Header& header);

}  // namespace vessel::block

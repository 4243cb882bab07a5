// Snapshot tables for people, column for column as QEMU's
// bdrv_snapshot_dump() prints them (qemu-img snapshot -l, qemu-img info and
// the monitor's `info snapshots`).
#pragma once

#include <string>
#include <string_view>

#include "block/qcow2_snapshot.h"

namespace vessel::block {

// "ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT"
std::string snapshot_table_header();
// One snapshot (date in local time) under the ID `id` (the monitor shows
// "--" for snapshots of several disks); no line end.
std::string snapshot_table_row(const Qcow2Snapshot& snapshot, std::string_view id);

}  // namespace vessel::block

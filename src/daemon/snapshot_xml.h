// libvirt's domain snapshot XML (https://libvirt.org/formatsnapshot.html,
// schema domainsnapshot.rng) to and from SnapshotDef. The same format is
// what a client sends to snapshot-create (name, description, memory, disks)
// and what the daemon keeps and returns (with state, creation time, parent
// and the domain's XML as it was).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace vessel::daemon {

// Where a disk's or the memory's snapshot goes (<memory snapshot=…>,
// <disk snapshot=…>); kDefault when the XML does not say.
enum class SnapshotLocation { kDefault, kNo, kInternal, kExternal };

// libvirt's snapshot states that Vessel produces.
enum class SnapshotState { kRunning, kPaused, kShutoff, kDiskSnapshot };

struct SnapshotDiskDef {
  std::string name;  // the disk's target (vda)
  SnapshotLocation snapshot = SnapshotLocation::kDefault;
  std::string file;    // external: the overlay image
  std::string format;  // external: its format (<driver type=…>)
};

struct SnapshotDef {
  std::string name;
  std::string description;
  std::string parent;  // empty for a root
  SnapshotState state = SnapshotState::kShutoff;
  int64_t creation_time = 0;  // seconds since the epoch
  SnapshotLocation memory = SnapshotLocation::kDefault;
  std::vector<SnapshotDiskDef> disks;
  std::string domain_xml;  // the domain's definition when it was taken
};

// Refuses what Vessel cannot honour (an external memory file, unknown
// elements) with libvirt's error kinds. Names are checked by the caller
// (check_snapshot_name) since an empty one is filled in at creation.
Result<SnapshotDef> parse_snapshot_xml(const std::string& xml);
std::string format_snapshot_xml(const SnapshotDef& def);

// libvirt keeps snapshots in files named after them: no '/', no leading '.'.
Result<void> check_snapshot_name(const std::string& name);

// A snapshot is external if any of its disks is (a disk-only snapshot into
// overlays); reverting to it or deleting it is not supported.
bool is_external(const SnapshotDef& def);

const char* state_name(SnapshotState state);

}  // namespace vessel::daemon

// The internal snapshots of a qcow2 image, as qemu-img snapshot handles
// them: list, create, apply and delete, with its lookups (apply: by ID, then
// by name; delete: the first snapshot with the name) and its errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "block/qcow2.h"
#include "storage/image_spec.h"

namespace vessel::storage {

enum class SnapshotAction : uint8_t {
  kNone,    // only open the image, read-write (and close it again)
  kList,    // read-only
  kCreate,  // a snapshot of the disk as it is now, named `snapshot`
  kApply,   // the disk becomes the snapshot with ID, or else name, `snapshot`
  kDelete,  // the first snapshot named `snapshot`
};

struct SnapshotRequest {
  ImageSpec image;
  SnapshotAction action = SnapshotAction::kNone;
  std::string snapshot;  // the name (or, to apply, the ID or name)
};

// Does what `request` asks; the image's snapshots for kList (none for a raw
// image), an empty list otherwise.
Result<std::vector<block::Qcow2Snapshot>> run_snapshot(const SnapshotRequest& request);

// The same for an image file of probed format.
Result<std::vector<block::Qcow2Snapshot>> list_snapshots(const std::string& path);
Result<void> create_snapshot(const std::string& path, const std::string& name);
Result<void> apply_snapshot(const std::string& path, const std::string& id_or_name);
Result<void> delete_snapshot(const std::string& path, const std::string& name);

}  // namespace vessel::storage

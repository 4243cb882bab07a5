#include "storage/snapshot.h"

#include <utility>

namespace vessel::storage {
namespace {

// qemu-img keeps at most this much of a new snapshot's name (QEMUSnapshotInfo.name).
constexpr size_t kMaxNewNameBytes = 255;

// Does `action` on an image opened for it; the list for kList.
Result<std::vector<block::Qcow2Snapshot>> act(block::Qcow2Image* q, const std::string& path,
                                              SnapshotAction action, const std::string& snapshot) {
  auto refuse = [&](const std::string& verb) {
    return Error(path + ": Could not " + verb + " snapshot '" + snapshot +
                 "': raw images have no snapshots");
  };
  switch (action) {
    case SnapshotAction::kNone:
      break;
    case SnapshotAction::kList:
      if (q != nullptr) return q->snapshots();
      break;
    case SnapshotAction::kCreate: {
      if (q == nullptr) return refuse("create");
      TRY(q->create_snapshot(snapshot.substr(0, kMaxNewNameBytes)));
      break;
    }
    case SnapshotAction::kApply: {
      if (q == nullptr) return refuse("apply");
      auto index = q->find_snapshot(snapshot);
      if (!index) {
        return Error(path + ": Could not apply snapshot '" + snapshot + "': snapshot not found");
      }
      TRY(q->apply_snapshot(*index));
      break;
    }
    case SnapshotAction::kDelete: {
      if (q == nullptr) return refuse("delete");
      // qemu-img snapshot -d matches names only, the first one that fits.
      const auto& list = q->snapshots();
      size_t index = 0;
      while (index < list.size() && list[index].name != snapshot) ++index;
      if (index == list.size()) {
        return Error(path + ": Could not delete snapshot '" + snapshot + "': snapshot not found");
      }
      TRY(q->delete_snapshot(index));
      break;
    }
  }
  return std::vector<block::Qcow2Snapshot>{};
}

Result<std::vector<block::Qcow2Snapshot>> on_file(const std::string& path, SnapshotAction action,
                                                  const std::string& snapshot) {
  SnapshotRequest request;
  request.image.name = path;
  request.image.path = path;
  request.action = action;
  request.snapshot = snapshot;
  return run_snapshot(request);
}

}  // namespace

Result<std::vector<block::Qcow2Snapshot>> run_snapshot(const SnapshotRequest& request) {
  // As qemu-img: only a listing opens the image read-only.
  const bool writable = request.action != SnapshotAction::kList;
  TRY_ASSIGN(OpenedImage image, open_image(request.image, writable));
  block::Qcow2Image* q = image.qcow2;
  TRY_ASSIGN(auto list, act(q, request.image.path, request.action, request.snapshot));
  if (q != nullptr) TRY(q->close());
  return list;
}

Result<std::vector<block::Qcow2Snapshot>> list_snapshots(const std::string& path) {
  return on_file(path, SnapshotAction::kList, "");
}

Result<void> create_snapshot(const std::string& path, const std::string& name) {
  TRY(on_file(path, SnapshotAction::kCreate, name));
  return Ok();
}

Result<void> apply_snapshot(const std::string& path, const std::string& id_or_name) {
  TRY(on_file(path, SnapshotAction::kApply, id_or_name));
  return Ok();
}

Result<void> delete_snapshot(const std::string& path, const std::string& name) {
  TRY(on_file(path, SnapshotAction::kDelete, name));
  return Ok();
}

}  // namespace vessel::storage

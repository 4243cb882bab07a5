// snapshot-delete: the internal snapshot goes from the disks (HMP `delvm` in
// a running VM, the image layer's snapshot delete otherwise) and from the metadata;
// its children move up to its parent. External snapshots only lose their
// metadata (--metadata), as merging overlays is not supported.
#include <algorithm>

#include "daemon/snapshot_manager.h"
#include "daemon/virt_error.h"
#include "storage/snapshot.h"

namespace vessel::daemon {
namespace {

using virt_error::make;
using namespace snapshot_flags;

}  // namespace

Result<void> SnapshotManager::discard(const DomainManager::SnapshotView& view,
                                      const SnapshotDef& snap) {
  TRY_ASSIGN(auto disks, internal_disks(snap, view.def));
  if (disks.empty()) return Ok();
  if (view.process)
    return run_hmp(*view.process, "delvm " + snap.name, "Failed to delete snapshot");
  for (const DiskDef& disk : disks) TRY(on_disk(storage::delete_snapshot(disk.path, snap.name)));
  return Ok();
}

Result<void> SnapshotManager::remove(const DomainRef& ref, const std::string& name,
                                     unsigned flags) {
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  const std::string domain = view.ref.name;
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(SnapshotDef snap, store_.load(domain, name));
  std::vector<SnapshotDef> all = store_.list(domain);

  // What goes: the snapshot, and with --children(-only) its descendants,
  // deepest first (the list is in creation order, parents first).
  std::vector<SnapshotDef> doomed;
  if (flags & (kDeleteChildren | kDeleteChildrenOnly)) {
    std::vector<std::string> below = {name};
    for (const SnapshotDef& other : all) {
      if (std::find(below.begin(), below.end(), other.parent) != below.end()) {
        below.push_back(other.name);
        doomed.push_back(other);
      }
    }
    std::reverse(doomed.begin(), doomed.end());
  }
  if (!(flags & kDeleteChildrenOnly)) doomed.push_back(snap);
  if (!(flags & kDeleteMetadataOnly)) {
    for (const SnapshotDef& victim : doomed) {
      if (is_external(victim)) {
        return make(virt_error::kConfigUnsupported,
                    "deletion of external disk snapshots not supported; use --metadata");
      }
    }
  }

  std::string current = store_.current(domain);
  for (const SnapshotDef& victim : doomed) {
    if (!(flags & kDeleteMetadataOnly)) TRY(discard(view, victim));
    // Its children (those that stay) now hang from its parent.
    for (SnapshotDef& child : all) {
      if (child.parent != victim.name) continue;
      child.parent = victim.parent;
      TRY(store_.save(domain, child));
    }
    TRY(store_.remove(domain, victim.name));
    if (current == victim.name) current = victim.parent;
  }
  return store_.set_current(domain, current);
}

}  // namespace vessel::daemon

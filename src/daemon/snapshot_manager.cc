// The snapshot queries (listing, the tree, the current one), undefine's
// check and the helpers of the changing operations (snapshot_create.cc,
// snapshot_revert.cc, snapshot_delete.cc).
#include "daemon/snapshot_manager.h"

#include <algorithm>

#include "daemon/domain_xml.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

using virt_error::make;
using namespace snapshot_flags;

bool is_descendant(const std::vector<SnapshotDef>& all, const SnapshotDef& snap,
                   const std::string& ancestor) {
  std::string parent = snap.parent;
  // Bounded by the number of snapshots: a corrupt loop of parents ends.
  for (size_t hops = 0; !parent.empty() && hops <= all.size(); ++hops) {
    if (parent == ancestor) return true;
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const SnapshotDef& other) { return other.name == parent; });
    if (it == all.end()) return false;
    parent = it->parent;
  }
  return false;
}

// libvirt's list filters: each group given narrows the list; within a
// group the flags add up.
bool passes(const std::vector<SnapshotDef>& all, const SnapshotDef& snap, unsigned flags) {
  bool leaf = std::none_of(all.begin(), all.end(),
                           [&](const SnapshotDef& other) { return other.parent == snap.name; });
  if ((flags & (kListLeaves | kListNoLeaves)) != 0 &&
      !((flags & kListLeaves && leaf) || (flags & kListNoLeaves && !leaf))) {
    return false;
  }
  // Every snapshot Vessel knows has metadata.
  if ((flags & (kListMetadata | kListNoMetadata)) == kListNoMetadata) return false;
  bool inactive = snap.state == SnapshotState::kShutoff;
  bool disk_only = snap.state == SnapshotState::kDiskSnapshot;
  if ((flags & (kListInactive | kListActive | kListDiskOnly)) != 0 &&
      !((flags & kListInactive && inactive) || (flags & kListDiskOnly && disk_only) ||
        (flags & kListActive && !inactive && !disk_only))) {
    return false;
  }
  bool external = is_external(snap);
  if ((flags & (kListInternal | kListExternal)) != 0 &&
      !((flags & kListInternal && !external) || (flags & kListExternal && external))) {
    return false;
  }
  return true;
}

}  // namespace

Result<void> run_hmp(VmProcess& process, const std::string& command, const std::string& what) {
  auto output = process.qmp().execute("human-monitor-command", {{"command-line", command}},
                                      std::chrono::minutes(30));
  if (!output.ok())
    return make(virt_error::kOperationFailed, what + ": " + output.error().message());
  std::string text = output->is_string() ? output->get<std::string>() : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.find("Error") != std::string::npos) {
    return make(virt_error::kOperationFailed, what + ": " + text);
  }
  return Ok();
}

SnapshotManager::SnapshotManager(DomainManager& domains)
    : domains_(domains), store_(domains.state_dir()) {}

Result<void> SnapshotManager::on_disk(Result<void> done) {
  if (!done.ok()) return make(virt_error::kOperationFailed, done.error().message());
  return Ok();
}

Result<std::vector<DiskDef>> SnapshotManager::internal_disks(const SnapshotDef& snap,
                                                             const DomainDef& now) {
  auto then = parse_domain_xml(snap.domain_xml);
  std::vector<DiskDef> disks;
  for (const SnapshotDiskDef& taken : snap.disks) {
    if (taken.snapshot != SnapshotLocation::kInternal) continue;
    auto current = std::find_if(now.disks.begin(), now.disks.end(),
                                [&](const DiskDef& disk) { return disk.target == taken.name; });
    const DiskDef* old = nullptr;
    if (then.ok()) {
      for (const DiskDef& disk : then->disks) {
        if (disk.target == taken.name) old = &disk;
      }
    }
    if (current == now.disks.end() || (old != nullptr && old->path != current->path)) {
      return make(virt_error::kOperationInvalid,
                  "disk image '" + taken.name + "' for internal snapshot '" + snap.name +
                      "' is not the same as disk image currently used by VM");
    }
    disks.push_back(*current);
  }
  return disks;
}

Result<std::vector<std::string>> SnapshotManager::list(const DomainRef& ref, unsigned flags,
                                                       const std::string* of) {
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  std::lock_guard lock(mutex_);
  std::vector<SnapshotDef> all = store_.list(view.ref.name);
  if (of != nullptr) TRY(store_.load(view.ref.name, *of));
  std::vector<std::string> names;
  for (const SnapshotDef& snap : all) {
    bool related;
    if (of == nullptr) {
      related = !(flags & kListRoots) || snap.parent.empty();
    } else {
      related = flags & kListDescendants ? is_descendant(all, snap, *of) : snap.parent == *of;
    }
    if (related && passes(all, snap, flags)) names.push_back(snap.name);
  }
  return names;  // creation order puts parents first (kListTopological)
}

Result<std::string> SnapshotManager::xml(const DomainRef& ref, const std::string& name) {
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(SnapshotDef def, store_.load(view.ref.name, name));
  return format_snapshot_xml(def);
}

Result<void> SnapshotManager::lookup(const DomainRef& ref, const std::string& name) {
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  std::lock_guard lock(mutex_);
  TRY(store_.load(view.ref.name, name));
  return Ok();
}

Result<std::string> SnapshotManager::parent(const DomainRef& ref, const std::string& name) {
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(SnapshotDef def, store_.load(view.ref.name, name));
  if (def.parent.empty()) {
    return make(virt_error::kNoDomainSnapshot, "snapshot '" + name + "' does not have a parent");
  }
  return def.parent;
}

Result<std::string> SnapshotManager::current(const DomainRef& ref) {
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  std::lock_guard lock(mutex_);
  return store_.current(view.ref.name);
}

Result<void> SnapshotManager::undefine(const DomainRef& ref, unsigned flags) {
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  std::lock_guard lock(mutex_);
  size_t count = store_.list(view.ref.name).size();
  if (!view.process && count > 0) {
    if (!(flags & kUndefineSnapshotsMetadata)) {
      return make(virt_error::kOperationInvalid,
                  "cannot delete inactive domain with " + std::to_string(count) + " snapshots");
    }
    TRY(store_.remove_all(view.ref.name));
  }
  return domains_.undefine(ref);
}

}  // namespace vessel::daemon

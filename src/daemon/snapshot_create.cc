// snapshot-create: an internal snapshot of the whole VM (running) or of the
// disks (shut off), or an external disk-only one into qcow2 overlays.
#include <unistd.h>

#include <ctime>
#include <utility>

#include "daemon/domain_xml.h"
#include "daemon/snapshot_manager.h"
#include "daemon/virt_error.h"
#include "storage/create.h"
#include "storage/snapshot.h"

namespace vessel::daemon {
namespace {

using virt_error::make;
using namespace snapshot_flags;

// libvirt's default overlay: the disk's path with its extension (if any)
// replaced by the snapshot's name.
std::string default_overlay(const std::string& path, const std::string& name) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  std::string stem = dot != std::string::npos && (slash == std::string::npos || dot > slash)
                         ? path.substr(0, dot)
                         : path;
  return stem + "." + name;
}

// A shut-off disk's external snapshot: a new qcow2 overlay at `file` on top
// of the disk, as `vessel img create -f qcow2 -b DISK -F FMT FILE` makes it.
Result<void> create_overlay(const std::string& file, const DiskDef& disk) {
  storage::CreateRequest request;
  request.path = file;
  request.format = block::ImageFormat::kQcow2;
  request.backing_file = disk.path;
  request.backing_format = disk.format;
  TRY_ASSIGN(storage::CreatePlan plan, storage::plan_create(std::move(request)));
  return storage::create_image(plan);
}

// Settles each disk's part in the snapshot: every disk of the domain gets an
// entry, read-only ones 'no', writable ones `location` unless the request
// said otherwise. A request naming an unknown disk is refused.
Result<std::vector<SnapshotDiskDef>> settle_disks(const DomainDef& domain,
                                                  const std::vector<SnapshotDiskDef>& requested,
                                                  SnapshotLocation location) {
  for (const SnapshotDiskDef& asked : requested) {
    bool known = false;
    for (const DiskDef& disk : domain.disks)
      known |= disk.target == asked.name || disk.path == asked.name;
    if (!known) return make(virt_error::kConfigUnsupported, "no disk named '" + asked.name + "'");
  }
  std::vector<SnapshotDiskDef> disks;
  for (const DiskDef& disk : domain.disks) {
    SnapshotDiskDef entry{disk.target, disk.readonly ? SnapshotLocation::kNo : location, "", ""};
    for (const SnapshotDiskDef& asked : requested) {
      if (asked.name != disk.target && asked.name != disk.path) continue;
      if (asked.snapshot != SnapshotLocation::kDefault) entry.snapshot = asked.snapshot;
      entry.file = asked.file;
    }
    if (entry.snapshot != SnapshotLocation::kNo && entry.snapshot != location) {
      return make(virt_error::kConfigUnsupported,
                  "mixing internal and external targets for a snapshot is not yet supported");
    }
    if (location == SnapshotLocation::kInternal && entry.snapshot == SnapshotLocation::kNo &&
        !disk.readonly) {
      return make(virt_error::kConfigUnsupported,
                  "internal and full system snapshots require all disks to be selected for "
                  "snapshot");
    }
    if (entry.snapshot == SnapshotLocation::kExternal) entry.format = "qcow2";
    disks.push_back(std::move(entry));
  }
  return disks;
}

}  // namespace

Result<std::string> SnapshotManager::create(const DomainRef& ref, const std::string& xml,
                                            unsigned flags) {
  if (flags & (kCreateRedefine | kCreateCurrent)) {
    return make(virt_error::kConfigUnsupported, "redefining snapshots");
  }
  if (flags & kCreateQuiesce) {
    return make(virt_error::kOperationUnsupported, "quiescing needs a guest agent");
  }
  if (flags & kCreateLive) {
    return make(virt_error::kOperationUnsupported, "live snapshots (with external memory)");
  }
  TRY_ASSIGN(SnapshotDef def, parse_snapshot_xml(xml));
  TRY(check_snapshot_name(def.name));
  def.creation_time = static_cast<int64_t>(std::time(nullptr));
  if (def.name.empty()) def.name = std::to_string(def.creation_time);  // as libvirt names them
  def.parent.clear();
  def.domain_xml.clear();

  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  const std::string domain = view.ref.name;
  std::lock_guard lock(mutex_);
  if (store_.exists(domain, def.name)) {
    return make(virt_error::kOperationFailed, "domain snapshot '" + def.name + "' already exists");
  }
  def.domain_xml = format_domain_xml(view.def, -1);
  def.parent = store_.current(domain);
  bool external = flags & kCreateDiskOnly || is_external(def) ||
                  (def.memory == SnapshotLocation::kNo && view.process);
  if (external) {
    if (def.memory == SnapshotLocation::kInternal) {
      return make(virt_error::kConfigUnsupported,
                  "disk-only snapshots cannot include the memory state");
    }
    TRY_ASSIGN(def, create_external(view, std::move(def), flags));
  } else {
    TRY_ASSIGN(def, create_internal(view, std::move(def)));
  }
  if (!(flags & kCreateNoMetadata)) {
    TRY(store_.save(domain, def));
    TRY(store_.set_current(domain, def.name));
  }
  if (flags & kCreateHalt && view.process) TRY(domains_.destroy(ref));
  return def.name;
}

Result<SnapshotDef> SnapshotManager::create_internal(const DomainManager::SnapshotView& view,
                                                     SnapshotDef def) {
  TRY_ASSIGN(def.disks, settle_disks(view.def, def.disks, SnapshotLocation::kInternal));
  if (view.process) {
    // The VM refuses if a writable disk cannot hold it (not qcow2).
    def.memory = SnapshotLocation::kInternal;
    def.state =
        view.state == DomainState::kPaused ? SnapshotState::kPaused : SnapshotState::kRunning;
    TRY(run_hmp(*view.process, "savevm " + def.name, "Failed to take snapshot"));
    return def;
  }
  def.memory = SnapshotLocation::kNo;
  def.state = SnapshotState::kShutoff;
  std::vector<std::string> done;  // taken so far, undone if a later disk fails
  for (const DiskDef& disk : view.def.disks) {
    if (disk.readonly) continue;
    if (disk.format != "qcow2") {
      for (const std::string& path : done) (void)storage::delete_snapshot(path, def.name);
      return make(virt_error::kConfigUnsupported, "internal snapshot for disk " + disk.target +
                                                      " unsupported for storage type " +
                                                      disk.format);
    }
    if (auto taken = on_disk(storage::create_snapshot(disk.path, def.name)); !taken.ok()) {
      for (const std::string& path : done) (void)storage::delete_snapshot(path, def.name);
      return taken.error();
    }
    done.push_back(disk.path);
  }
  return def;
}

Result<SnapshotDef> SnapshotManager::create_external(const DomainManager::SnapshotView& view,
                                                     SnapshotDef def, unsigned flags) {
  TRY_ASSIGN(def.disks, settle_disks(view.def, def.disks, SnapshotLocation::kExternal));
  def.memory = SnapshotLocation::kNo;
  def.state = SnapshotState::kDiskSnapshot;
  bool reuse = flags & kCreateReuseExt;
  std::vector<DiskDef> switched;  // the disks now on their overlays
  Result<void> result = Ok();
  for (size_t i = 0; i < view.def.disks.size() && result.ok(); ++i) {
    const DiskDef& disk = view.def.disks[i];
    SnapshotDiskDef& entry = def.disks[i];
    if (entry.snapshot != SnapshotLocation::kExternal) continue;
    if (entry.file.empty()) entry.file = default_overlay(disk.path, def.name);
    bool exists = ::access(entry.file.c_str(), F_OK) == 0;
    if (exists && !reuse) {
      result = make(virt_error::kInvalidArg,
                    "external snapshot file for disk " + disk.target +
                        " already exists and is not a block device: " + entry.file);
      break;
    }
    if (view.process) {
      // vessel run names its disks virtio0, virtio1, ... in definition order.
      auto synced = view.process->qmp().execute("blockdev-snapshot-sync",
                                                {{"device", "virtio" + std::to_string(i)},
                                                 {"snapshot-file", entry.file},
                                                 {"format", "qcow2"},
                                                 {"mode", reuse ? "existing" : "absolute-paths"}});
      if (!synced.ok()) {
        result = make(virt_error::kOperationFailed, synced.error().message());
        break;
      }
    } else if (!reuse) {
      result = on_disk(create_overlay(entry.file, disk));
      if (!result.ok()) break;
    }
    switched.push_back({entry.file, "qcow2", disk.target, false});
  }
  if (!result.ok() && !view.process) {
    // Nothing used the new overlays yet: a shut-off domain stays as it was.
    for (const DiskDef& overlay : switched) {
      if (!reuse) ::unlink(overlay.path.c_str());
    }
    switched.clear();
  }
  // A running VM that switched some disks before one failed runs on them:
  // its definition must say so.
  if (!switched.empty()) TRY(domains_.replace_disk_images(view.ref, switched));
  if (!result.ok()) return result.error();
  return def;
}

}  // namespace vessel::daemon

// snapshot-revert: a snapshot with the VM's state (HMP `loadvm` into the
// running VM, or a start with `--loadvm`), or a shut-off one (the domain is
// stopped and each disk applies its internal snapshot). The domain's
// definition becomes the one the snapshot recorded, as in libvirt; a running
// VM whose machine differs from it is restarted from the snapshot rather
// than loaded into. External snapshots cannot be reverted to, as in libvirt
// 9.0.
#include <nlohmann/json.hpp>

#include "daemon/domain_xml.h"
#include "daemon/snapshot_manager.h"
#include "daemon/virt_error.h"
#include "storage/snapshot.h"

namespace vessel::daemon {
namespace {

using virt_error::make;
using namespace snapshot_flags;

}  // namespace

Result<void> SnapshotManager::revert(const DomainRef& ref, const std::string& name,
                                     unsigned flags) {
  if ((flags & (kRevertRunning | kRevertPaused)) == (kRevertRunning | kRevertPaused)) {
    return make(virt_error::kInvalidArg, "flags 'running' and 'paused' are mutually exclusive");
  }
  TRY_ASSIGN(auto view, domains_.snapshot_view(ref));
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(SnapshotDef snap, store_.load(view.ref.name, name));
  if (is_external(snap)) {
    return make(virt_error::kConfigUnsupported, "revert to external snapshot not supported yet");
  }
  bool has_memory = snap.state == SnapshotState::kRunning || snap.state == SnapshotState::kPaused;
  if (!view.persistent && !has_memory && !(flags & (kRevertRunning | kRevertPaused))) {
    return make(virt_error::kOperationInvalid,
                "transient domain needs to request run or pause to revert to inactive snapshot");
  }
  // Metadata written before snapshots recorded their definition: the
  // current one stands in.
  DomainDef then = view.def;
  if (!snap.domain_xml.empty()) {
    TRY_ASSIGN(then, parse_domain_xml(snap.domain_xml));
  }
  if (has_memory) {
    TRY(revert_to_memory(ref, view, snap, then, flags));
  } else {
    TRY(revert_to_disks(ref, view, snap, then, flags));
  }
  return store_.set_current(view.ref.name, name);
}

Result<void> SnapshotManager::revert_to_memory(const DomainRef& ref,
                                               const DomainManager::SnapshotView& view,
                                               const SnapshotDef& snap, const DomainDef& then,
                                               unsigned flags) {
  TRY(internal_disks(snap, then));
  DomainRef target = view.ref;
  std::shared_ptr<VmProcess> process = view.process;
  bool same_machine = format_domain_xml(then, -1) == format_domain_xml(view.def, -1);
  if (process && !same_machine && !view.persistent) {
    return make(virt_error::kOperationInvalid,
                "the snapshot's machine differs from the running one: a transient domain "
                "cannot be restarted from it");
  }
  TRY(domains_.restore_definition(ref, then));
  if (process && !same_machine) {
    TRY(domains_.destroy(ref));
    process = nullptr;
  }
  if (process) {
    TRY(run_hmp(*process, "loadvm " + snap.name, "Failed to revert to snapshot"));
  } else {
    TRY_ASSIGN(target, domains_.start_from_snapshot(ref, snap.name));
    TRY_ASSIGN(auto started, domains_.snapshot_view(target));
    process = started.process;
    if (!process) return make(virt_error::kOperationFailed, "the domain ended at once");
  }
  // The VM is left as the snapshot was unless the caller asked otherwise.
  bool paused =
      flags & kRevertPaused || (!(flags & kRevertRunning) && snap.state == SnapshotState::kPaused);
  auto status = process->qmp().execute("query-status");
  if (!status.ok()) return make(virt_error::kOperationFailed, status.error().message());
  bool running = status->value("running", false);
  if (paused && running) return domains_.suspend(target);
  if (!paused && !running) return domains_.resume(target);
  return Ok();
}

Result<void> SnapshotManager::revert_to_disks(const DomainRef& ref,
                                              const DomainManager::SnapshotView& view,
                                              const SnapshotDef& snap, const DomainDef& then,
                                              unsigned flags) {
  TRY_ASSIGN(auto disks, internal_disks(snap, view.def));
  // A shut-off snapshot: the running VM goes first, as with libvirt.
  if (view.process) TRY(domains_.destroy(ref));
  if (view.persistent) TRY(domains_.restore_definition(ref, then));
  for (const DiskDef& disk : disks) TRY(on_disk(storage::apply_snapshot(disk.path, snap.name)));
  if (flags & (kRevertRunning | kRevertPaused)) {
    TRY(domains_.start(ref, flags & kRevertPaused));
  }
  return Ok();
}

}  // namespace vessel::daemon

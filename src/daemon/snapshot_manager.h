// virsh's snapshot verbs on the domains of a DomainManager, as libvirt's
// QEMU driver does them:
//   - internal (the default): a running domain's whole VM through HMP
//     `savevm` (state running/paused); a shut-off domain's writable qcow2
//     disks through the image layer's snapshots (state shutoff)
//   - external (disk-only): each writable disk gets a qcow2 overlay (QMP
//     `blockdev-snapshot-sync`, or an overlay made by the image layer when shut off)
//     and the domain runs on the overlays from then on
// Metadata lives in a SnapshotStore. One mutex orders the snapshot
// operations; it is never the DomainManager's, which is not held while the
// VM answers.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/domain_manager.h"
#include "daemon/snapshot_store.h"

namespace vessel::daemon {

// libvirt's virDomainSnapshot*Flags that Vessel acts on.
namespace snapshot_flags {
// virDomainSnapshotCreateFlags
inline constexpr unsigned kCreateRedefine = 1, kCreateCurrent = 2, kCreateNoMetadata = 4,
                          kCreateHalt = 8, kCreateDiskOnly = 16, kCreateReuseExt = 32,
                          kCreateQuiesce = 64, kCreateAtomic = 128, kCreateLive = 256,
                          kCreateValidate = 512;
// virDomainSnapshotListFlags (kListRoots is kListDescendants for children)
inline constexpr unsigned kListRoots = 1, kListDescendants = 1, kListMetadata = 2, kListLeaves = 4,
                          kListNoLeaves = 8, kListNoMetadata = 16, kListInactive = 32,
                          kListActive = 64, kListDiskOnly = 128, kListInternal = 256,
                          kListExternal = 512, kListTopological = 1024;
// virDomainSnapshotRevertFlags
inline constexpr unsigned kRevertRunning = 1, kRevertPaused = 2, kRevertForce = 4;
// virDomainSnapshotDeleteFlags
inline constexpr unsigned kDeleteChildren = 1, kDeleteMetadataOnly = 2, kDeleteChildrenOnly = 4;
// virDomainUndefineFlagsValues
inline constexpr unsigned kUndefineSnapshotsMetadata = 2;
}  // namespace snapshot_flags

class SnapshotManager {
 public:
  explicit SnapshotManager(DomainManager& domains);

  // snapshot-create / snapshot-create-as: returns the new snapshot's name.
  Result<std::string> create(const DomainRef& ref, const std::string& xml, unsigned flags);
  Result<void> revert(const DomainRef& ref, const std::string& name, unsigned flags);
  Result<void> remove(const DomainRef& ref, const std::string& name, unsigned flags);
  // The domain's undefine, refused while a shut-off domain has snapshots
  // unless their metadata may go too (libvirt's rule).
  Result<void> undefine(const DomainRef& ref, unsigned flags);

  // Names passing the list `flags`, parents before children: all of the
  // domain's snapshots, or (`of` given) the children or descendants of one.
  Result<std::vector<std::string>> list(const DomainRef& ref, unsigned flags,
                                        const std::string* of = nullptr);
  Result<std::string> xml(const DomainRef& ref, const std::string& name);
  Result<void> lookup(const DomainRef& ref, const std::string& name);
  Result<std::string> parent(const DomainRef& ref, const std::string& name);
  // Empty when there is no current snapshot.
  Result<std::string> current(const DomainRef& ref);

 private:
  Result<SnapshotDef> create_internal(const DomainManager::SnapshotView& view, SnapshotDef def);
  Result<SnapshotDef> create_external(const DomainManager::SnapshotView& view, SnapshotDef def,
                                      unsigned flags);
  // `then`: the definition the snapshot recorded, which the domain gets back.
  Result<void> revert_to_memory(const DomainRef& ref, const DomainManager::SnapshotView& view,
                                const SnapshotDef& snap, const DomainDef& then, unsigned flags);
  Result<void> revert_to_disks(const DomainRef& ref, const DomainManager::SnapshotView& view,
                               const SnapshotDef& snap, const DomainDef& then, unsigned flags);
  Result<void> discard(const DomainManager::SnapshotView& view, const SnapshotDef& snap);
  // The images an internal snapshot lives in: its disks as the domain has
  // them now, refused if one was switched to another image since.
  Result<std::vector<DiskDef>> internal_disks(const SnapshotDef& snap, const DomainDef& now);
  // The result of an image operation on a shut-off domain's disk
  // (storage/), its error a libvirt one.
  static Result<void> on_disk(Result<void> done);

  DomainManager& domains_;
  SnapshotStore store_;
  std::mutex mutex_;
};

// Runs a human-monitor command on the VM; QEMU's monitor reports failures
// in its text ("Error: …"), which becomes `what` failed: ….
Result<void> run_hmp(VmProcess& process, const std::string& command, const std::string& what);

}  // namespace vessel::daemon

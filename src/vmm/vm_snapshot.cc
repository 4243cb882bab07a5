#include "vmm/vm_snapshot.h"

#include <algorithm>
#include <ctime>
#include <vector>

#include "block/qcow2.h"
#include "block/qcow2_snapshot_text.h"
#include "vmm/state_file.h"

namespace vessel::vmm {
namespace {

// QEMUSnapshotInfo.name holds 255 bytes and a NUL.
constexpr size_t kMaxNameBytes = 255;
// A saved state is the RAM in use (each page with 16 bytes of framing) and a
// few MiB of devices; more than this is a damaged snapshot entry, refused
// before any memory is allocated for it.
constexpr uint64_t kStateSlack = uint64_t{64} << 20;

// A writable disk: those take part in VM snapshots.
struct SnapshotDisk {
  std::string device;        // "virtio0", as query-block names it
  block::Qcow2Image* image;  // nullptr: not a writable qcow2 image
};

std::vector<SnapshotDisk> writable_disks(Vm& vm) {
  std::vector<SnapshotDisk> disks;
  const auto& config = vm.board().config().disks;
  for (size_t i = 0; i < config.size(); ++i) {
    if (config[i].read_only) continue;
    auto* image = dynamic_cast<block::Qcow2Image*>(&vm.board().disk_image(i));
    if (image != nullptr && image->read_only()) image = nullptr;
    disks.push_back({"virtio" + std::to_string(i), image});
  }
  return disks;
}

// The writable disks, in board order, all qcow2 (QEMU's
// bdrv_all_can_snapshot); the first one holds the VM state.
Result<std::vector<SnapshotDisk>> snapshot_disks(Vm& vm) {
  std::vector<SnapshotDisk> disks = writable_disks(vm);
  for (const SnapshotDisk& d : disks) {
    if (d.image == nullptr) {
      return Error("Device '" + d.device + "' is writable but does not support snapshots");
    }
  }
  if (disks.empty()) return Error("no block device can store vmstate for snapshot");
  return disks;
}

// HMP's snapshot commands match names only (bdrv_snapshot_find).
const block::Qcow2Snapshot* find_by_name(const block::Qcow2Image& image, const std::string& name) {
  for (const block::Qcow2Snapshot& s : image.snapshots()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// The index of the snapshot with this ID (IDs are unique in one image).
size_t index_of(const block::Qcow2Image& image, const std::string& id) {
  const auto& list = image.snapshots();
  size_t i = 0;
  while (i < list.size() && list[i].id != id) ++i;
  return i;
}

std::string default_name() {
  time_t now = time(nullptr);
  struct tm local {};
  localtime_r(&now, &local);
  char name[32];
  std::strftime(name, sizeof name, "vm-%Y%m%d%H%M%S", &local);
  return name;
}

// Writes the VM state into the first disk and takes the snapshot on every
// disk; on failure the snapshots already taken are deleted again.
Result<void> save_paused(Vm& vm, const std::vector<SnapshotDisk>& disks, const std::string& name) {
  for (const SnapshotDisk& d : disks) TRY(d.image->flush());
  StateWriter state;
  TRY(vm.save(state));
  const std::vector<uint8_t> bytes = encode_state_file(state.data());
  block::Qcow2Image& holder = *disks[0].image;
  if (auto written = holder.write_vm_state(0, bytes); !written) {
    (void)holder.discard_vm_state();
    return written.error();
  }
  block::Qcow2NewSnapshot params;
  params.name = name;
  params.vm_clock_nsec = vm.guest_clock_ns();
  params.icount = -1;  // no record/replay
  std::vector<std::string> ids;
  for (size_t i = 0; i < disks.size(); ++i) {
    params.vm_state_size = i == 0 ? bytes.size() : 0;
    auto id = disks[i].image->create_snapshot(params);
    if (!id) {
      for (size_t j = 0; j < ids.size(); ++j) {
        (void)disks[j].image->delete_snapshot(index_of(*disks[j].image, ids[j]));
      }
      (void)holder.discard_vm_state();
      return Error("Could not create snapshot '" + name + "' on '" + disks[i].device +
                   "': " + id.error().message());
    }
    ids.push_back(*id);
  }
  // The snapshot holds the state now; the active disk need not.
  return holder.discard_vm_state();
}

// The saved state of snapshot `snap` of `holder`, read through a read-only
// view of the snapshot and checked (CRC, version) before anything changes.
Result<std::vector<uint8_t>> read_saved_state(Vm& vm, const block::Qcow2Image& holder,
                                              const block::Qcow2Snapshot& snap) {
  const std::string what = "snapshot '" + snap.name + "'";
  const uint64_t limit =
      vm.board().bus().ram_size() / memory::kPageSize * (memory::kPageSize + 16) + kStateSlack;
  if (snap.vm_state_size > limit) {
    return Error(holder.path() + ": " + what + " has a VM state of " +
                 std::to_string(snap.vm_state_size) + " bytes, more than a VM of this size saves");
  }
  block::Qcow2OpenOptions view;
  view.snapshot_id = snap.id;
  view.snapshot_name = snap.name;
  TRY_ASSIGN(std::unique_ptr<block::Qcow2Image> image,
             block::Qcow2Image::open(holder.path(), view));
  std::vector<uint8_t> bytes(snap.vm_state_size);
  TRY(image->read_vm_state(0, bytes));
  return decode_state_file(bytes, holder.path() + ": " + what);
}

Result<void> load_paused(Vm& vm, const std::vector<SnapshotDisk>& disks, const std::string& name,
                         const std::vector<uint8_t>& state) {
  for (const SnapshotDisk& d : disks) {
    const block::Qcow2Snapshot* snap = find_by_name(*d.image, name);
    auto applied = d.image->apply_snapshot(index_of(*d.image, snap->id));
    if (!applied) {
      return Error("Could not load snapshot '" + name + "' on '" + d.device +
                   "': " + applied.error().message());
    }
  }
  StateReader reader(state);
  TRY(vm.restore(reader));
  // Reverting brought the state back into the active disk; it is not needed there.
  return disks[0].image->discard_vm_state();
}

// Pauses a running VM for the lifetime of the object; resume() lets it run
// again (a VM paused before stays paused).
class PauseScope {
 public:
  PauseScope(Vm& vm, const RunStateEvent& event)
      : vm_(vm), event_(event), was_running_(!vm.paused()) {
    if (!was_running_) return;
    vm_.pause();
    if (event_) event_("STOP");
  }
  void resume() {
    if (!was_running_) return;
    vm_.resume();
    if (event_) event_("RESUME");
  }

 private:
  Vm& vm_;
  const RunStateEvent& event_;
  bool was_running_;
};

}  // namespace

Result<void> save_vm_snapshot(Vm& vm, std::string name, const RunStateEvent& event) {
  TRY_ASSIGN(std::vector<SnapshotDisk> disks, snapshot_disks(vm));
  if (name.empty()) name = default_name();
  if (name.size() > kMaxNameBytes) name.resize(kMaxNameBytes);
  TRY(delete_vm_snapshot(vm, name));
  PauseScope pause(vm, event);
  Result<void> saved = save_paused(vm, disks, name);
  pause.resume();
  return saved;
}

Result<void> load_vm_snapshot(Vm& vm, const std::string& name, const RunStateEvent& event) {
  TRY_ASSIGN(std::vector<SnapshotDisk> disks, snapshot_disks(vm));
  for (size_t i = 0; i < disks.size(); ++i) {
    const block::Qcow2Snapshot* snap = find_by_name(*disks[i].image, name);
    if (snap == nullptr) {
      return Error("Snapshot '" + name + "' does not exist in one or more devices");
    }
    // The virtio disk keeps its size; a snapshot of another size cannot be
    // put under it.
    if (snap->disk_size != disks[i].image->size()) {
      return Error("Snapshot '" + name + "' on '" + disks[i].device + "' is of a disk of " +
                   std::to_string(snap->disk_size) + " bytes; the disk now has " +
                   std::to_string(disks[i].image->size()));
    }
  }
  const block::Qcow2Snapshot& snap = *find_by_name(*disks[0].image, name);
  if (snap.vm_state_size == 0) {
    return Error("This is a disk-only snapshot. Revert to it offline using qemu-img");
  }
  for (const SnapshotDisk& d : disks) TRY(d.image->flush());
  TRY_ASSIGN(std::vector<uint8_t> state, read_saved_state(vm, *disks[0].image, snap));
  PauseScope pause(vm, event);
  TRY(load_paused(vm, disks, name, state));
  pause.resume();
  return Ok();
}

Result<void> delete_vm_snapshot(Vm& vm, const std::string& name) {
  for (const SnapshotDisk& d : writable_disks(vm)) {
    const block::Qcow2Snapshot* snap = d.image ? find_by_name(*d.image, name) : nullptr;
    if (snap == nullptr) continue;
    auto deleted = d.image->delete_snapshot(index_of(*d.image, snap->id));
    if (!deleted) {
      return Error("Could not delete snapshot '" + name + "' on '" + d.device +
                   "': " + deleted.error().message());
    }
  }
  return Ok();
}

Result<std::string> vm_snapshot_table(Vm& vm) {
  // A writable raw disk does not stop the listing (unlike snapshot_disks()):
  // it only keeps every snapshot from being on all disks.
  std::vector<SnapshotDisk> disks = writable_disks(vm);
  const bool all_qcow2 =
      std::all_of(disks.begin(), disks.end(), [](const auto& d) { return d.image != nullptr; });
  std::erase_if(disks, [](const SnapshotDisk& d) { return d.image == nullptr; });
  if (disks.empty()) return Error("no block device can store vmstate for snapshot");
  bool any = false;
  for (const SnapshotDisk& d : disks) any = any || !d.image->snapshots().empty();
  if (!any) return std::string("There is no snapshot available.\n");

  // Per disk, the snapshots not (yet) found on all disks.
  std::vector<std::vector<block::Qcow2Snapshot>> partial;
  for (const SnapshotDisk& d : disks) partial.push_back(d.image->snapshots());
  std::vector<block::Qcow2Snapshot> global;
  for (const block::Qcow2Snapshot& s : disks[0].image->snapshots()) {
    bool everywhere = all_qcow2;
    for (const SnapshotDisk& d : disks) everywhere = everywhere && find_by_name(*d.image, s.name);
    if (!everywhere) continue;
    global.push_back(s);
    for (auto& list : partial) std::erase_if(list, [&](const auto& p) { return p.name == s.name; });
  }
  // The ID may differ from disk to disk, so the common list shows none.
  std::string out = "List of snapshots present on all disks:\n";
  if (global.empty()) {
    out += "None\n";
  } else {
    out += block::snapshot_table_header() + "\n";
    for (const auto& s : global) out += block::snapshot_table_row(s, "--") + "\n";
  }
  for (size_t i = 0; i < disks.size(); ++i) {
    if (partial[i].empty()) continue;
    out += "\nList of partial (non-loadable) snapshots on '" + disks[i].device + "':\n";
    out += block::snapshot_table_header() + "\n";
    for (const auto& s : partial[i]) out += block::snapshot_table_row(s, s.id) + "\n";
  }
  return out;
}

}  // namespace vessel::vmm

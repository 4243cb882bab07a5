// Snapshots of a whole VM inside its qcow2 disks, as QEMU's savevm, loadvm,
// delvm and `info snapshots` make them (migration/savevm.c, block/snapshot.c):
//
//   - every writable disk takes part and must be qcow2 (read-only disks
//     cannot change, so they need none); each gets an internal snapshot of
//     the same name;
//   - the first of them also keeps the VM's state, in its VM state area
//     (Qcow2Image::write_vm_state) with vm_state_size in its snapshot entry;
//     the payload is Vessel's state file (state_file.h), the same bytes a
//     `migrate` to a file writes;
//   - snapshots are found by name on every disk.
//
// Save and load pause the VM while they work and let it run on afterwards
// if it was running. A load reads and checks the saved state before any
// disk changes; once disks are reverted, a failure leaves the VM paused.
// Errors are QEMU's wording where QEMU has one.
#pragma once

#include <functional>
#include <string>

#include "base/result.h"
#include "vmm/vm.h"

namespace vessel::vmm {

// Hears "STOP" when a save or load pauses a running VM and "RESUME" when it
// lets it run again (QMP's events); may be empty.
using RunStateEvent = std::function<void(const char* event)>;

// `name` empty: QEMU's vm-YYYYMMDDHHMMSS. A snapshot of the same name is
// replaced (HMP's savevm does so too). A VM that was running runs on, also
// when saving failed.
Result<void> save_vm_snapshot(Vm& vm, std::string name, const RunStateEvent& event = {});
Result<void> load_vm_snapshot(Vm& vm, const std::string& name, const RunStateEvent& event = {});
// Deletes the snapshot called `name` from every disk that has one (no
// error where none has it, as QEMU).
Result<void> delete_vm_snapshot(Vm& vm, const std::string& name);
// `info snapshots`: the snapshots present on all disks, then those only
// some disks have ("partial"), lines ending in "\n".
Result<std::string> vm_snapshot_table(Vm& vm);

}  // namespace vessel::vmm

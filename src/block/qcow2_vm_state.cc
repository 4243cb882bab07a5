// The VM state area of a qcow2 image, as QEMU lays it out (block/qcow2.c
// qcow2_save_vmstate / qcow2_load_vmstate): a VM's saved state lives at guest
// offsets past the disk, from qcow2_vm_state_offset() = l1_vm_state_index <<
// (cluster_bits + l2_bits), the first L1 entry that maps no disk byte. The
// qcow2 spec leaves the area to the writer ("vm_state_size: Size of the VM
// state in bytes. 0 if no VM state is saved"); taking the same offsets as
// QEMU makes a snapshot's VM state reach the same clusters in either tool.
//
// Writes go through the ordinary write path (allocation, copy-on-write of
// clusters shared with snapshots, the crash ordering of qcow2_write.cc); the
// L1 table first grows to cover the area, as QEMU's does.
#include <algorithm>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

uint64_t Qcow2Image::vm_state_offset() const {
  return div_round_up(info_.size, geometry_.l1_entry_span()) * geometry_.l1_entry_span();
}

Result<void> Qcow2Image::write_vm_state(uint64_t pos, std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& path = file_->path();
  TRY(check_request(0, 0, true));
  TRY(check_no_external_data("a VM state is"));
  const uint64_t start = vm_state_offset();
  // The L1 table is the limit: QEMU's, 32 MiB of entries.
  const uint64_t limit = kMaxL1Bytes / 8 * geometry_.l1_entry_span();
  if (pos > limit - start || data.size() > limit - start - pos) {
    return Error(path + ": a VM state of " + std::to_string(pos + data.size()) +
                 " bytes does not fit in the image (" + std::to_string(limit - start) +
                 " bytes at most with " + std::to_string(geometry_.cluster_size()) +
                 "-byte clusters)");
  }
  if (data.empty()) return Ok();
  const uint64_t needed = div_round_up(start + pos + data.size(), geometry_.l1_entry_span());
  if (needed > l1_.size()) TRY(grow_l1(needed));
  return write_locked(start + pos, data);
}

Result<void> Qcow2Image::read_vm_state(uint64_t pos, std::span<uint8_t> out) {
  std::unique_lock<std::mutex> lock(mu_);
  TRY(check_request(0, 0, false));
  const uint64_t start = vm_state_offset();
  if (pos > UINT64_MAX - start || out.size() > UINT64_MAX - start - pos) {
    return Error(file_->path() + ": VM state offset " + std::to_string(pos) + " is out of range");
  }
  // Clusters never written (and those past the L1 table) read as zeros.
  return read_locked(start + pos, out, &lock);
}

Result<void> Qcow2Image::discard_vm_state() {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  const uint64_t first = vm_state_offset() / geometry_.l1_entry_span();
  if (first >= l1_.size()) return Ok();
  TRY(drop_l2_tables(first));
  return flush_locked();
}

}  // namespace vessel::block

// Writing a run of whole clusters that have no host cluster yet (the common
// case when an image is filled, as by `vessel img convert`): the clusters are
// allocated as one contiguous range and the data goes out in one write,
// instead of one allocation, file extension and write per cluster. The crash
// ordering is the same as for single clusters (qcow2_write.cc): the data is
// written now, the L2 entries reach the disk only after the refcounts and a
// sync.
#include <algorithm>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

Result<uint64_t> Qcow2Image::write_new_run(uint64_t guest_offset, std::span<const uint8_t> data) {
  const uint64_t cs = geometry_.cluster_size();
  if (!geometry_.aligned(guest_offset) || data.size() < 2 * cs) return uint64_t{0};
  // Without a host cluster: unallocated, or a zero cluster without
  // preallocation (with extended L2 entries: any mix of unallocated and zero
  // subclusters). What the backing file holds does not matter, since every
  // byte of these clusters is overwritten.
  auto unmapped = [](uint64_t entry) { return entry == 0 || entry == kOflagZero; };
  TRY_ASSIGN(Mapping first, lookup(guest_offset));
  if (!unmapped(first.entry)) return uint64_t{0};

  const uint64_t cluster = geometry_.cluster_index(guest_offset);
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();
  // A run of as many clusters as one refcount block counts may never fit:
  // each block the allocation creates lies inside the range it counts and
  // splits it. One fewer always fits after a new block.
  const uint64_t refcount_block_entries = cs * 8 / info_.refcount_bits;
  const uint64_t limit = std::min<uint64_t>(
      {data.size() / cs, geometry_.l2_entries() - l2_index, refcount_block_entries - 1});
  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  const uint64_t l2_offset = table->offset;
  uint64_t count = 0;
  while (count < limit && unmapped(l2_entry(*table, l2_index + count))) ++count;
  if (count < 2) return uint64_t{0};

  TRY_ASSIGN(DataCluster alloc, allocate_data(guest_offset, count));
  TRY(guest_data().write(alloc.offset, data.first(count * cs)));
  unsynced_ = true;
  TRY_ASSIGN(table, l2_cache_->get(l2_offset));
  // With extended L2 entries every subcluster now holds data.
  const uint64_t bitmap = geometry_.extended_l2 ? kSubclusterAllocMask : 0;
  for (uint64_t i = 0; i < count; ++i) {
    set_l2(*table, l2_index + i, (alloc.offset + i * cs) | kOflagCopied, bitmap);
  }
  return count * cs;
}

}  // namespace vessel::block

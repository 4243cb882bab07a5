// Changing the virtual size of a qcow2 image, and emptying it.
//
// Persistent bitmaps are marked in use before the size changes and stored
// for the new size after it (qcow2_bitmap_track.cc): a crash between leaves
// them inconsistent, not wrong.
//
// Growing: a larger L1 table is needed once the new size needs more entries.
// When they still fit in the clusters of the current table the new entries
// (zeros) are written in place before the header counts them; otherwise a new
// table is allocated and counted, written and synced, the header is switched
// to it (l1_size and l1_table_offset in one write inside the first sector),
// and only then is the old table released. The size field goes last.
//
// Shrinking (as QEMU): entries past the new end are unmapped and their
// clusters released through the ordinary flush ordering (L2 tables and L1
// first, refcounts after), then the header gets the new size and the file
// loses its unused tail. The L1 table keeps its length, with zero entries.
// Internal snapshots keep their own tables, so they stay intact.
#include <algorithm>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

namespace {

// Writes the new disk size into the header (synced): the last step of both
// growing and shrinking, after everything it makes visible is in place.
Result<void> store_disk_size(HostFile& file, Qcow2Header& header, Qcow2Info& info,
                             uint64_t new_size) {
  uint8_t raw[8];
  store_be64(raw, new_size);
  TRY(file.write(field::kSize, raw));
  TRY(file.sync());
  header.size = new_size;
  info.size = new_size;
  return Ok();
}

}  // namespace

Result<void> Qcow2Image::resize(uint64_t new_size, bool allow_shrink) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  const std::string& path = file_->path();
  TRY(check_request(0, 0, true));
  if (new_size % 512 != 0) return Error(path + ": the new size must be a multiple of 512");
  // QEMU's rule: version 2 snapshot entries may not record their disk size.
  if (!snapshots_.snapshots.empty() && header_.version < 3) {
    return Error(path + ": can't resize a v2 image which has internal snapshots");
  }
  const uint64_t old_size = info_.size;
  if (new_size == old_size) return Ok();
  const uint64_t new_l1_size = div_round_up(new_size, geometry_.l1_entry_span());
  if (new_l1_size * 8 > kMaxL1Bytes) {
    return Error(path + ": a disk of " + std::to_string(new_size) + " bytes is too large for " +
                 std::to_string(geometry_.cluster_size()) + "-byte clusters");
  }
  if (new_size < old_size && !allow_shrink) {
    return Error(path + ": use the --shrink option to make the image smaller (" +
                 std::to_string(old_size) + " -> " + std::to_string(new_size) +
                 " bytes); its tail would be lost");
  }
  TRY_ASSIGN(std::vector<Qcow2BitmapEdit> bitmaps, bitmaps_for_resize());
  if (new_size < old_size) {
    TRY(shrink_to(new_size));
    // (QEMU resizes an external data file with the disk.)
    if (data_file_) TRY(data_file_->truncate(new_size));
  } else {
    TRY(grow_to(new_size));
  }
  return store_resized_bitmaps(std::move(bitmaps), new_size);
}

Result<void> Qcow2Image::grow_to(uint64_t new_size) {
  const uint64_t old_size = info_.size;
  const uint64_t new_l1_size = div_round_up(new_size, geometry_.l1_entry_span());
  if (new_l1_size > l1_.size()) TRY(grow_l1(new_l1_size));
  TRY(store_disk_size(*file_, header_, info_, new_size));
  if (data_file_) {
    TRY(data_file_->truncate(new_size));
    // Raw external data: the new area is mapped one to one as well, as at
    // creation ("can be read as a consistent standalone raw image").
    if (info_.data_file_raw) TRY(preallocate_locked(old_size / geometry_.cluster_size()));
  }
  // A backing file larger than the old disk would show through the new
  // area; the disk must read zeros there (QEMU does the same).
  if (backing_ && backing_size_ > old_size) {
    TRY(write_zeroes_locked(old_size, new_size - old_size, ZeroMode::kDeallocate));
    TRY(flush_locked());
  }
  return Ok();
}

Result<void> Qcow2Image::grow_l1(uint64_t new_l1_size) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t old_l1_size = l1_.size();
  const uint64_t old_clusters = div_round_up(old_l1_size * 8, cs);
  const uint64_t new_clusters = div_round_up(new_l1_size * 8, cs);
  uint8_t fields[12];  // l1_size, l1_table_offset: adjacent in the header
  if (old_l1_size > 0 && new_clusters <= old_clusters) {
    // In place: the header only counts the new entries once they are zeros.
    std::vector<uint8_t> zeros((new_l1_size - old_l1_size) * 8, 0);
    TRY(file_->write(header_.l1_table_offset + old_l1_size * 8, zeros));
    TRY(file_->sync());
    store_be32(fields, static_cast<uint32_t>(new_l1_size));
    store_be64(fields + 4, header_.l1_table_offset);
    TRY(file_->write(field::kL1Size, fields));
    TRY(file_->sync());
    l1_.resize(new_l1_size, 0);
    header_.l1_size = static_cast<uint32_t>(new_l1_size);
    index_metadata();
    return Ok();
  }
  // The current table must be complete on disk before it is copied.
  TRY(flush_locked());
  // At the end of the file: the table may be longer than a refcount block
  // covers, which allocate() cannot place.
  TRY_ASSIGN(uint64_t new_offset, refcounts_->allocate_at_end(new_clusters));
  TRY(settle_refcounts());
  std::vector<uint8_t> table(new_clusters * cs, 0);
  for (uint64_t i = 0; i < old_l1_size; ++i) store_be64(&table[i * 8], l1_[i]);
  TRY(file_->write(new_offset, table));
  TRY(file_->sync());
  unsynced_ = false;
  store_be32(fields, static_cast<uint32_t>(new_l1_size));
  store_be64(fields + 4, new_offset);
  TRY(file_->write(field::kL1Size, fields));
  TRY(file_->sync());
  const uint64_t old_offset = header_.l1_table_offset;
  header_.l1_table_offset = new_offset;
  header_.l1_size = static_cast<uint32_t>(new_l1_size);
  l1_.resize(new_l1_size, 0);
  index_metadata();
  // Nothing refers to the old table any more.
  if (old_clusters > 0) {
    pending_releases_.push_back({old_offset, old_clusters * cs, false});
    TRY(flush_locked());
  }
  return Ok();
}

Result<void> Qcow2Image::drop_l2_tables(uint64_t first) {
  const uint64_t cs = geometry_.cluster_size();
  for (uint64_t i = first; i < l1_.size(); ++i) {
    const uint64_t l2_offset = l1_[i] & kL1OffsetMask;
    if (l2_offset == 0) continue;
    // Every L1 table counts one reference on each cluster its L2 tables map,
    // also through a table it shares with a snapshot (that is how QEMU and
    // qemu-img check count them), so the clusters lose the active table's
    // reference with the table, shared or not.
    TRY_ASSIGN(Qcow2Table * table, l2_cache_->get(l2_offset));
    std::vector<uint64_t> entries(geometry_.l2_entries()), bitmaps(entries.size());
    for (uint64_t j = 0; j < entries.size(); ++j) {
      entries[j] = l2_entry(*table, j);
      bitmaps[j] = l2_bitmap(*table, j);
    }
    for (uint64_t j = 0; j < entries.size(); ++j) {
      uint64_t guest = (i * geometry_.l2_entries() + j) << geometry_.cluster_bits;
      TRY_ASSIGN(Mapping m, classify(entries[j], guest, true, bitmaps[j]));
      release_later(m);
    }
    pending_releases_.push_back({l2_offset, cs, true});
    l1_[i] = 0;
    l1_dirty_sectors_.insert(i / 64);
  }
  return Ok();
}

Result<void> Qcow2Image::shrink_to(uint64_t new_size) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t per_table = geometry_.l2_entries();
  const uint64_t new_l1_size = div_round_up(new_size, geometry_.l1_entry_span());
  // Clusters wholly past the new end inside tables that stay.
  const uint64_t first = div_round_up(new_size, cs);
  const uint64_t last = std::min(div_round_up(info_.size, cs), new_l1_size * per_table);
  for (uint64_t c = first; c < last; ++c) {
    const uint64_t l1_index = c / per_table;
    if ((l1_[l1_index] & kL1OffsetMask) == 0) {
      c = (l1_index + 1) * per_table - 1;  // a whole unmapped table
      continue;
    }
    TRY_ASSIGN(Mapping m, lookup(c * cs));
    if (m.entry == 0 && m.bitmap == 0) continue;
    TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
    TRY_ASSIGN(m, classify(l2_entry(*table, c % per_table), c * cs, true,
                           l2_bitmap(*table, c % per_table)));
    set_l2(*table, c % per_table, 0, 0);
    release_later(m);
  }
  TRY(drop_l2_tables(new_l1_size));
  // L2 tables, then L1, then the releases.
  TRY(flush_locked());
  TRY(store_disk_size(*file_, header_, info_, new_size));

  // The counts must be on disk before the clusters they free leave the file.
  TRY(settle_all());
  uint64_t end = div_round_up(file_->size(), cs);
  while (end > 1) {
    TRY_ASSIGN(uint64_t count, refcounts_->get(end - 1));
    if (count != 0) break;
    --end;
  }
  if (end * cs < file_->size()) TRY(file_->truncate(end * cs));
  return Ok();
}

Result<void> Qcow2Image::make_empty() {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  TRY(drop_l2_tables(0));
  return flush_locked();
}

}  // namespace vessel::block

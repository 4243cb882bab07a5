// Storing persistent dirty bitmaps (`vessel img bitmap`): a whole new bitmap
// directory at a time, as QEMU stores them. Crash ordering (qcow2 spec
// "Bitmaps extension", autoclear bit 0):
//
//   1. new bitmap data clusters, then their tables, then the new directory,
//      each in clusters allocated for it, never in place;
//   2. the refcounts of all of them, then fdatasync;
//   3. the header cluster, in one write, pointing at the new directory (and
//      with the autoclear bitmaps bit set, or both gone when no bitmap is
//      left), then fdatasync;
//   4. the old directory and the tables no entry keeps, with their data,
//      freed.
//
// A crash before 3 leaves the old bitmaps in place and the new clusters
// leaked; after it, at worst the old clusters leaked.
#include <algorithm>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

Result<Qcow2BitmapBits> Qcow2Image::read_bitmap(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= bitmaps_.size())
    return Error(file_->path() + ": no bitmap " + std::to_string(index));
  for (const RecordingBitmap& r : recording_bitmaps_) {
    if (r.index == index) return r.bits;
  }
  return read_qcow2_bitmap_bits(*file_, header_, bitmaps_[index], info_.size);
}

Result<void> Qcow2Image::write_bitmap_data(const Qcow2BitmapBits& bits, Qcow2Bitmap& entry) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t clusters = div_round_up(bits.bytes.size(), cs);
  std::vector<uint8_t> table(clusters * 8, 0);
  std::vector<uint8_t> cluster(cs);
  for (uint64_t i = 0; i < clusters; ++i) {
    const uint64_t start = i * cs;
    const auto piece = std::span<const uint8_t>(bits.bytes)
                           .subspan(start, std::min<uint64_t>(cs, bits.bytes.size() - start));
    // "0: Cluster should be read as all zeros": nothing to store.
    if (std::all_of(piece.begin(), piece.end(), [](uint8_t b) { return b == 0; })) continue;
    std::fill(std::copy(piece.begin(), piece.end(), cluster.begin()), cluster.end(), uint8_t{0});
    TRY_ASSIGN(auto alloc, refcounts_->allocate(1));
    TRY(file_->write(alloc.offset, cluster));
    store_be64(&table[i * 8], alloc.offset);
  }
  // (A disk of size 0 has an empty table, which still gets its cluster: an
  // entry's table offset must not be 0.)
  TRY_ASSIGN(auto alloc,
             refcounts_->allocate(std::max<uint64_t>(1, div_round_up(table.size(), cs))));
  if (!table.empty()) TRY(file_->write(alloc.offset, table));
  entry.table_offset = alloc.offset;
  entry.table_size = static_cast<uint32_t>(clusters);
  return Ok();
}

Result<void> Qcow2Image::release_bitmap(const Qcow2Bitmap& bitmap) {
  // The directory range qcow2_bitmap_clusters() puts first is not this
  // bitmap's: store_bitmaps() frees it on its own.
  TRY_ASSIGN(auto ranges, qcow2_bitmap_clusters(*file_, header_, {bitmap}));
  ranges.erase(ranges.begin());
  for (const auto& [offset, length] : ranges) {
    if (offset >= file_->size() || is_metadata_cluster(geometry_.cluster_index(offset))) {
      return corruption("bitmap '" + bitmap.name + "' uses the cluster at offset " +
                        std::to_string(offset) +
                        ", which is outside the file or holds other metadata");
    }
  }
  for (const auto& [offset, length] : ranges) {
    TRY(refcounts_->release(offset, std::max<uint64_t>(length, 1)));
  }
  return Ok();
}

Result<void> Qcow2Image::store_bitmaps(const std::vector<Qcow2BitmapEdit>& bitmaps) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  return store_bitmaps_locked(bitmaps);
}

Result<void> Qcow2Image::store_bitmaps_locked(const std::vector<Qcow2BitmapEdit>& edits) {
  // A kept table of a bitmap recording writes is stale: its bits in memory
  // are stored instead.
  std::vector<Qcow2BitmapEdit> bitmaps = edits;
  for (Qcow2BitmapEdit& edit : bitmaps) {
    if (!edit.keep_table) continue;
    for (const RecordingBitmap& r : recording_bitmaps_) {
      if (bitmaps_[r.index].table_offset != edit.entry.table_offset) continue;
      edit.keep_table = false;
      edit.bits = r.bits;
    }
  }
  if (header_.version < 3 && !bitmaps.empty()) {
    return Error(file_->path() + ": Cannot store dirty bitmaps in qcow2 v2 files");
  }
  if (bitmaps.size() > kMaxBitmaps) {
    return Error(file_->path() + ": more than " + std::to_string(kMaxBitmaps) + " bitmaps");
  }
  TRY(settle_all());

  // Step 1.
  std::vector<Qcow2Bitmap> directory;
  for (const Qcow2BitmapEdit& edit : bitmaps) {
    Qcow2Bitmap entry = edit.entry;
    if (!edit.keep_table) TRY(write_bitmap_data(edit.bits, entry));
    directory.push_back(std::move(entry));
  }
  const std::vector<uint8_t> dir_bytes = encode_qcow2_bitmap_directory(directory);
  if (dir_bytes.size() > kMaxBitmapDirectoryBytes) {
    return Error(file_->path() + ": the bitmap directory would exceed 64 MiB");
  }
  Qcow2BitmapsExtension ext{};
  if (!directory.empty()) {
    TRY_ASSIGN(auto alloc,
               refcounts_->allocate(div_round_up(dir_bytes.size(), geometry_.cluster_size())));
    TRY(file_->write(alloc.offset, dir_bytes));
    ext = {static_cast<uint32_t>(directory.size()), dir_bytes.size(), alloc.offset};
  }
  // Step 2.
  TRY(refcounts_->writeback());
  TRY(file_->sync());

  // Step 3.
  const std::vector<Qcow2Bitmap> old = bitmaps_;
  const Qcow2BitmapsExtension old_ext = header_.bitmaps;
  Qcow2Header saved = header_;
  header_.has_bitmaps_extension = !directory.empty();
  header_.bitmaps = ext;
  if (directory.empty()) {
    header_.autoclear_features &= ~kAutoclearBitmaps;
  } else {
    header_.autoclear_features |= kAutoclearBitmaps;
  }
  if (auto written = rewrite_header(); !written.ok()) {
    header_ = std::move(saved);
    return written;
  }
  TRY_ASSIGN(bitmaps_, read_qcow2_bitmaps(*file_, header_));
  index_metadata();
  // None is in use any more: the next change marks them again.
  recording_bitmaps_.clear();
  bitmaps_marked_ = false;

  // Step 4. (Only a directory that was valid was counted: one that the
  // autoclear bit disowned is leaked, as qemu-img check says.)
  if (!old.empty()) TRY(refcounts_->release(old_ext.directory_offset, old_ext.directory_size));
  for (const Qcow2Bitmap& b : old) {
    const bool kept = std::any_of(bitmaps.begin(), bitmaps.end(), [&](const Qcow2BitmapEdit& e) {
      return e.keep_table && e.entry.table_offset == b.table_offset;
    });
    if (!kept) TRY(release_bitmap(b));
  }
  compressed_tail_ = 0;  // the freed clusters may include its cluster
  TRY(refcounts_->writeback());
  return file_->sync();
}

}  // namespace vessel::block

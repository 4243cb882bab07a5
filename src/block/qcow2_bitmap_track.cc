// Recording the guest's writes in the enabled persistent dirty bitmaps, as
// QEMU does (qcow2 spec "Bitmap directory": in_use, auto; QEMU's
// qcow2-bitmap.c and block/dirty-bitmap.c):
//
//   1. before the first change of what the guest sees, the bits of every
//      enabled bitmap that is not in use are loaded into memory, and then it
//      gets the in-use flag on disk (synced): from here on its stored bits
//      may be stale, so a crash leaves it "inconsistent";
//   2. every write, write_zeroes, discard and compressed write sets the bits
//      covering its whole range (as QEMU's bdrv_set_dirty, also for a
//      request that fails half way), under mu_, which the write holds anyway;
//   3. close stores them anew (store_bitmaps: new clusters, then the header
//      switch, then the old ones freed) with the in-use flag clear. A flush
//      does not, nor does QEMU's: until close they stay in use.
//
// A bitmap found in use (inconsistent) is kept as it is and records nothing.
// Unlike QEMU, which marks every bitmap in use as soon as it opens an image
// read-write, only the recording ones are marked, at the first change:
// nothing else touches a bitmap while the image is open (store_bitmaps
// writes a whole new directory, crash-safe), so after a crash the disabled
// ones, and all of them when nothing was written, are still good.
#include <algorithm>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Image::mark_bitmaps_in_use() {
  if (bitmaps_marked_) return Ok();
  std::vector<RecordingBitmap> recording;
  std::vector<size_t> indices;
  for (size_t i = 0; i < bitmaps_.size(); ++i) {
    const Qcow2Bitmap& b = bitmaps_[i];
    if (!b.enabled() || b.in_use()) continue;
    TRY_ASSIGN(Qcow2BitmapBits bits, read_qcow2_bitmap_bits(*file_, header_, b, info_.size));
    recording.push_back({i, std::move(bits)});
    indices.push_back(i);
  }
  TRY(write_in_use_flags(indices));
  recording_bitmaps_ = std::move(recording);
  bitmaps_marked_ = true;
  return Ok();
}

Result<void> Qcow2Image::record_write(uint64_t offset, uint64_t length) {
  TRY(mark_bitmaps_in_use());
  for (RecordingBitmap& r : recording_bitmaps_) r.bits.set_range(offset, length);
  return Ok();
}

Result<void> Qcow2Image::write_in_use_flags(const std::vector<size_t>& indices) {
  for (size_t i : indices) {
    uint8_t raw[4];
    store_be32(raw, bitmaps_[i].flags | kBitmapInUse);
    TRY(file_->write(bitmaps_[i].flags_offset, raw));
  }
  if (!indices.empty()) TRY(file_->sync());
  return Ok();
}

Result<void> Qcow2Image::store_recorded_bitmaps() {
  if (recording_bitmaps_.empty()) return Ok();
  std::vector<Qcow2BitmapEdit> edits;
  for (const Qcow2Bitmap& b : bitmaps_) edits.push_back({b, /*keep_table=*/true, {}});
  return store_bitmaps_locked(edits);
}

Result<std::vector<Qcow2BitmapEdit>> Qcow2Image::bitmaps_for_resize() {
  std::vector<Qcow2BitmapEdit> edits;
  std::vector<size_t> indices;
  for (size_t i = 0; i < bitmaps_.size(); ++i) {
    const Qcow2Bitmap& b = bitmaps_[i];
    // qemu's qcow2_truncate_bitmaps_check, in its words.
    if (b.in_use()) {
      return Error(file_->path() + ": Bitmap '" + b.name +
                   "' is inconsistent and cannot be used; it must be removed before a resize");
    }
    Qcow2BitmapEdit edit{b, /*keep_table=*/false, {}};
    auto recorded = std::find_if(recording_bitmaps_.begin(), recording_bitmaps_.end(),
                                 [&](const RecordingBitmap& r) { return r.index == i; });
    if (recorded != recording_bitmaps_.end()) {
      edit.bits = recorded->bits;
    } else {
      TRY_ASSIGN(edit.bits, read_qcow2_bitmap_bits(*file_, header_, b, info_.size));
    }
    edits.push_back(std::move(edit));
    indices.push_back(i);
  }
  TRY(write_in_use_flags(indices));
  // Their bits are in `edits` now, sized for the old disk: should the resize
  // fail, they stay in use and record nothing more.
  recording_bitmaps_.clear();
  bitmaps_marked_ = true;
  return edits;
}

Result<void> Qcow2Image::store_resized_bitmaps(std::vector<Qcow2BitmapEdit> bitmaps,
                                               uint64_t new_size) {
  if (bitmaps.empty()) return Ok();
  for (Qcow2BitmapEdit& edit : bitmaps) edit.bits.resize(new_size);
  return store_bitmaps_locked(bitmaps);
}

}  // namespace vessel::block

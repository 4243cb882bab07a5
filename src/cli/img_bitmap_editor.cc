// BitmapEditor (img_bitmap_editor.h).
#include "cli/img_bitmap_editor.h"

#include <algorithm>
#include <bit>

namespace vessel::cli::img {
namespace {

using block::Qcow2BitmapBits;
using block::Qcow2BitmapEdit;
namespace q = block::qcow2;

std::string inconsistent(const std::string& name) {
  return "Bitmap '" + name +
         "' is inconsistent and cannot be used; try --remove to delete this bitmap from disk";
}

// qemu's default (bdrv_get_default_bitmap_granularity): the cluster size,
// kept within 4 KiB and 64 KiB.
uint32_t default_granularity(uint32_t cluster_size) {
  return std::min<uint32_t>(65536, std::max<uint32_t>(4096, cluster_size));
}

}  // namespace

BitmapEditor::BitmapEditor(block::Qcow2Image* image, std::string name)
    : image_(image), name_(std::move(name)) {
  if (image_ == nullptr) return;
  for (size_t i = 0; i < image_->bitmaps().size(); ++i) {
    bitmaps_.push_back({Qcow2BitmapEdit{image_->bitmaps()[i], true, {}}, i});
  }
}

BitmapEditor::Working* BitmapEditor::find(const std::string& name) {
  for (Working& w : bitmaps_) {
    if (w.edit.entry.name == name) return &w;
  }
  return nullptr;
}

Result<BitmapEditor::Working*> BitmapEditor::lookup(const std::string& name, bool usable) {
  Working* w = find(name);
  if (w == nullptr) return Error("Dirty bitmap '" + name + "' not found");
  if (usable && w->edit.entry.in_use()) return Error(inconsistent(name));
  return w;
}

Result<Qcow2BitmapBits> BitmapEditor::current_bits(const Working& w) const {
  if (!w.edit.keep_table) return w.edit.bits;
  return image_->read_bitmap(*w.stored);
}

Result<void> BitmapEditor::add(const std::string& name, uint64_t granularity_option) {
  if (name.empty()) return Error("Bitmap name cannot be empty");
  // qemu-img passes -g on as a 32-bit number; 0 means "not given".
  uint32_t granularity = static_cast<uint32_t>(granularity_option);
  if (granularity_option != 0 && (granularity < 512 || (granularity & (granularity - 1)) != 0)) {
    return Error("Granularity must be power of 2 and at least 512");
  }
  if (image_ == nullptr) {
    return Error("Can't store persistent bitmaps to " + name_ + ": Operation not supported");
  }
  if (granularity_option == 0) granularity = default_granularity(image_->info().cluster_size);
  TRY(check_storable(name, granularity));
  if (find(name) != nullptr) return Error("Bitmap already exists: " + name);
  Qcow2BitmapEdit edit;
  edit.entry.name = name;
  edit.entry.flags = q::kBitmapAuto;
  edit.entry.granularity_bits = static_cast<uint8_t>(std::countr_zero(granularity));
  edit.keep_table = false;
  edit.bits = Qcow2BitmapBits::empty(edit.entry.granularity_bits, image_->size());
  bitmaps_.push_back({std::move(edit), std::nullopt});
  changed_ = true;
  return Ok();
}

Result<void> BitmapEditor::remove(const std::string& name) {
  TRY(lookup(name, /*usable=*/false));
  std::erase_if(bitmaps_, [&](const Working& w) { return w.edit.entry.name == name; });
  changed_ = true;
  return Ok();
}

Result<void> BitmapEditor::clear(const std::string& name) {
  TRY_ASSIGN(Working * w, lookup(name, true));
  w->edit.keep_table = false;
  w->edit.bits = Qcow2BitmapBits::empty(w->edit.entry.granularity_bits, image_->size());
  changed_ = true;
  return Ok();
}

Result<void> BitmapEditor::set_enabled(const std::string& name, bool enabled) {
  TRY_ASSIGN(Working * w, lookup(name, true));
  uint32_t& flags = w->edit.entry.flags;
  flags = enabled ? flags | q::kBitmapAuto : flags & ~q::kBitmapAuto;
  changed_ = true;
  return Ok();
}

Result<void> BitmapEditor::merge(const std::string& name, const std::string& source,
                                 BitmapEditor& from) {
  TRY_ASSIGN(Working * dst, lookup(name, true));
  TRY_ASSIGN(Working * src, from.lookup(source, true));
  if (src == dst) return Ok();
  const uint64_t dst_size = image_->size(), src_size = from.image_->size();
  if (dst_size != src_size) {
    return Error("Bitmaps are of different sizes (destination size is " + std::to_string(dst_size) +
                 ", source size is " + std::to_string(src_size) + ") and can't be merged");
  }
  TRY_ASSIGN(Qcow2BitmapBits src_bits, from.current_bits(*src));
  if (dst->edit.keep_table) {
    TRY_ASSIGN(dst->edit.bits, current_bits(*dst));
    dst->edit.keep_table = false;
  }
  dst->edit.bits.merge(src_bits);
  changed_ = true;
  return Ok();
}

Result<void> BitmapEditor::store() {
  std::vector<Qcow2BitmapEdit> edits;
  for (const Working& w : bitmaps_) edits.push_back(w.edit);
  return image_->store_bitmaps(edits);
}

Result<void> BitmapEditor::check_storable(const std::string& name, uint32_t granularity) const {
  auto refuse = [&](const std::string& why) {
    return Error("Can't make bitmap '" + name + "' persistent in '" + name_ + "': " + why);
  };
  if (image_->info().version < 3) return refuse("Cannot store dirty bitmaps in qcow2 v2 files");
  const uint32_t bits = static_cast<uint32_t>(std::countr_zero(granularity));
  if (bits > q::kMaxBitmapGranularityBits) {
    return refuse("Granularity exceeds maximum (" +
                  std::to_string(uint64_t{1} << q::kMaxBitmapGranularityBits) + " bytes)");
  }
  const uint64_t units = image_->size() >> bits;
  if (units > q::kMaxBitmapDataBytes ||
      units > q::kMaxBitmapTableEntries * image_->info().cluster_size) {
    return refuse("Too much space will be occupied by the bitmap. Use larger granularity");
  }
  if (name.size() > q::kMaxBitmapNameLength) {
    return refuse("Name length exceeds maximum (" + std::to_string(q::kMaxBitmapNameLength) +
                  " characters)");
  }
  if (bitmaps_.size() >= q::kMaxBitmaps) {
    return refuse("Maximum number of persistent bitmaps is already reached");
  }
  return Ok();
}

}  // namespace vessel::cli::img

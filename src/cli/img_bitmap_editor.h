// The persistent dirty bitmaps of one image as `vessel img bitmap`'s
// operations change them, in memory, with qemu's checks and error texts
// (block/dirty-bitmap.c, qcow2-bitmap.c); store() hands the result to
// Qcow2Image::store_bitmaps(). A bitmap's bits are read from the image only
// when an operation needs them; an untouched one keeps its stored table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "block/qcow2.h"

namespace vessel::cli::img {

class BitmapEditor {
 public:
  // `image` null: a raw image, which has no bitmaps and can store none.
  // `name` is the image as the user named it, for errors.
  BitmapEditor(block::Qcow2Image* image, std::string name);

  // The operations of qemu-img bitmap on the bitmap `name`.
  // `granularity_option`: -g as given (0: not given).
  Result<void> add(const std::string& name, uint64_t granularity_option);
  Result<void> remove(const std::string& name);
  Result<void> clear(const std::string& name);
  Result<void> set_enabled(const std::string& name, bool enabled);
  // Sets in `name` the bits that bitmap `source` of `from` (this editor, or
  // the -b image's) has set.
  Result<void> merge(const std::string& name, const std::string& source, BitmapEditor& from);

  // Whether there is a bitmap called `name`.
  bool has(const std::string& name) { return find(name) != nullptr; }

  // Whether an operation changed anything; store() writes the result.
  bool changed() const { return changed_; }
  Result<void> store();

 private:
  struct Working {
    block::Qcow2BitmapEdit edit;
    std::optional<size_t> stored;  // index in Qcow2Image::bitmaps() while its table is kept
  };

  Working* find(const std::string& name);
  // The bitmap called `name`; `usable`: one not in use (inconsistent),
  // which only --remove may touch.
  Result<Working*> lookup(const std::string& name, bool usable);
  Result<block::Qcow2BitmapBits> current_bits(const Working& w) const;
  // qemu's checks before it makes a bitmap persistent (qcow2's
  // can_store_new_dirty_bitmap), with its wording.
  Result<void> check_storable(const std::string& name, uint32_t granularity) const;

  block::Qcow2Image* image_;
  std::string name_;
  std::vector<Working> bitmaps_;
  bool changed_ = false;
};

}  // namespace vessel::cli::img

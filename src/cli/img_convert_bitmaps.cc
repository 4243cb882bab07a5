// convert --bitmaps (img_convert_bitmaps.h).
#include "cli/img_convert_bitmaps.h"

#include <optional>
#include <vector>

#include "cli/img_bitmap_editor.h"

namespace vessel::cli::img {
namespace {

bool stores_bitmaps(const OpenedImage& image) {
  return image.qcow2 != nullptr && image.qcow2->info().version >= 3;
}

}  // namespace

// qemu-img goes through its list of bitmaps, where each one loaded went in
// front: the directory backwards. So does every loop here.
Result<void> check_convert_bitmaps(const OpenedImage& source, bool skip_broken) {
  if (!stores_bitmaps(source)) return Error("Source lacks bitmap support");
  if (skip_broken) return Ok();
  const auto& bitmaps = source.qcow2->bitmaps();
  for (auto b = bitmaps.rbegin(); b != bitmaps.rend(); ++b) {
    if (b->in_use()) {
      // (qemu-img's hint, on its second line, here after a semicolon: an
      // error is one line.)
      return Error("Cannot copy inconsistent bitmap '" + b->name +
                   "'; try --skip-broken-bitmaps, or use 'vessel img bitmap --remove' to delete "
                   "it");
    }
  }
  return Ok();
}

Result<void> check_convert_bitmap_target(const OpenedImage& target) {
  if (stores_bitmaps(target)) return Ok();
  return Error("Format driver '" + std::string(block::image_format_name(target.format)) +
               "' does not support bitmaps");
}

Result<void> copy_convert_bitmaps(block::Qcow2Image& source, const std::string& source_name,
                                  block::Qcow2Image& target, const std::string& target_name,
                                  bool skip_broken) {
  BitmapEditor from(&source, source_name);
  BitmapEditor to(&target, target_name);
  // The bitmaps qemu-img gets to add before a name taken in the target
  // stops it; it stores the ones it added in the source's order.
  std::vector<const block::Qcow2Bitmap*> added;
  std::optional<std::string> taken, failure;
  const auto& bitmaps = source.bitmaps();
  for (auto b = bitmaps.rbegin(); b != bitmaps.rend(); ++b) {
    if (skip_broken && b->in_use()) {
      warn("Skipping inconsistent bitmap '" + b->name + "'");
      continue;
    }
    if (to.has(b->name)) {
      taken = "Failed to create bitmap " + b->name + ": Bitmap already exists: " + b->name;
      break;
    }
    added.push_back(&*b);
  }
  for (auto b = added.rbegin(); b != added.rend() && !failure; ++b) {
    const std::string& name = (*b)->name;
    auto created = to.add(name, uint64_t{1} << (*b)->granularity_bits);
    if (created && !(*b)->enabled()) created = to.set_enabled(name, false);
    if (!created) {
      failure = "Failed to create bitmap " + name + ": " + created.error().message();
      break;
    }
    if (auto merged = to.merge(name, name, from); !merged) {
      (void)to.remove(name);
      failure = "Failed to populate bitmap " + name + ": " + merged.error().message();
    }
  }
  if (to.changed()) TRY(to.store());
  if (failure || taken) return Error(failure ? *failure : *taken);
  return Ok();
}

}  // namespace vessel::cli::img

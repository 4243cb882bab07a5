// vessel img bitmap: adds, removes, clears, enables, disables and merges the
// persistent dirty bitmaps of a qcow2 image, like qemu-img bitmap. The
// operations run in the order given, on the bitmaps in memory; what they
// leave is stored in one go (Qcow2Image::store_bitmaps), also when one of
// them fails, since qemu-img too keeps what the operations before the
// failing one did. The errors are qemu-img's ("Operation add on bitmap b0
// failed: Bitmap already exists: b0").
#include <algorithm>
#include <bit>
#include <cstdio>
#include <optional>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

using block::Qcow2BitmapBits;
using block::Qcow2BitmapEdit;

void print_help() {
  std::printf(
      "Usage: vessel img bitmap (--merge SOURCE | --add | --remove | --clear | --enable |\n"
      "                          --disable)... [-b source_file [-F source_fmt]]\n"
      "                          [-g granularity] [-f fmt] filename bitmap\n"
      "\n"
      "Changes the persistent dirty bitmap 'bitmap' of a qcow2 (compat=1.1) image,\n"
      "like qemu-img bitmap. The operations run in the order given:\n"
      "\n"
      "  --add            a new, empty bitmap (enabled: qemu then records writes in it)\n"
      "  --remove         delete the bitmap and free its clusters\n"
      "  --clear          clear every bit\n"
      "  --enable         mark it enabled ('auto')\n"
      "  --disable        mark it disabled\n"
      "  --merge SOURCE   set the bits bitmap SOURCE has set (of this image, or of -b)\n"
      "\n"
      "Options:\n"
      "  -g granularity   bytes per bit of a new bitmap, a power of two from 512\n"
      "                   (default: the cluster size, within 4 KiB to 64 KiB)\n"
      "  -b source_file   the image --merge reads SOURCE from\n"
      "  -F source_fmt    its format (probed when absent)\n"
      "  -f fmt           the image's format (probed when absent)\n"
      "  -h, --help       show this help\n"
      "\n"
      "Vessel itself does not record writes in enabled bitmaps: its writes mark\n"
      "them in use (inconsistent), as qemu-img info shows.\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

enum class Op { kAdd, kRemove, kClear, kEnable, kDisable, kMerge };
constexpr const char* kOpNames[] = {"add", "remove", "clear", "enable", "disable", "merge"};

struct Action {
  Op op;
  std::string source;  // --merge
};

// The bitmaps of the image as the operations change them.
struct Working {
  Qcow2BitmapEdit edit;
  std::optional<size_t> stored;  // index in Qcow2Image::bitmaps() while its table is kept
};

std::string inconsistent(const std::string& name) {
  return "Bitmap '" + name +
         "' is inconsistent and cannot be used; try --remove to delete this bitmap from disk";
}

// qemu's default (bdrv_get_default_bitmap_granularity): the cluster size,
// kept within 4 KiB and 64 KiB.
uint32_t default_granularity(uint32_t cluster_size) {
  return std::min<uint32_t>(65536, std::max<uint32_t>(4096, cluster_size));
}

class BitmapEditor {
 public:
  BitmapEditor(block::Qcow2Image* image, std::string path) : image_(image), path_(std::move(path)) {
    if (image_ == nullptr) return;
    for (size_t i = 0; i < image_->bitmaps().size(); ++i) {
      bitmaps_.push_back({Qcow2BitmapEdit{image_->bitmaps()[i], true, {}}, i});
    }
  }

  const std::vector<Working>& bitmaps() const { return bitmaps_; }

  Working* find(const std::string& name) {
    for (Working& w : bitmaps_) {
      if (w.edit.entry.name == name) return &w;
    }
    return nullptr;
  }

  bool changed() const { return changed_; }

  // The bits of `w` as they stand.
  Result<Qcow2BitmapBits> current_bits(const Working& w) const {
    if (!w.edit.keep_table) return w.edit.bits;
    return image_->read_bitmap(*w.stored);
  }

  Result<void> add(const std::string& name, uint64_t granularity_option) {
    if (name.empty()) return Error("Bitmap name cannot be empty");
    // qemu-img passes -g on as a 32-bit number; 0 means "not given".
    uint32_t granularity = static_cast<uint32_t>(granularity_option);
    if (granularity_option != 0 && (granularity < 512 || (granularity & (granularity - 1)) != 0)) {
      return Error("Granularity must be power of 2 and at least 512");
    }
    if (image_ == nullptr) {
      return Error("Can't store persistent bitmaps to " + path_ + ": Operation not supported");
    }
    if (granularity_option == 0) granularity = default_granularity(image_->info().cluster_size);
    TRY(check_storable(name, granularity));
    if (find(name) != nullptr) return Error("Bitmap already exists: " + name);
    Qcow2BitmapEdit edit;
    edit.entry.name = name;
    edit.entry.flags = block::qcow2::kBitmapAuto;
    edit.entry.granularity_bits = static_cast<uint8_t>(std::countr_zero(granularity));
    edit.keep_table = false;
    edit.bits = Qcow2BitmapBits::empty(edit.entry.granularity_bits, image_->size());
    bitmaps_.push_back({std::move(edit), std::nullopt});
    changed_ = true;
    return Ok();
  }

  Result<void> remove(const std::string& name) {
    TRY(lookup(name, /*usable=*/false));
    std::erase_if(bitmaps_, [&](const Working& w) { return w.edit.entry.name == name; });
    changed_ = true;
    return Ok();
  }

  Result<void> clear(const std::string& name) {
    TRY_ASSIGN(Working * w, lookup(name, true));
    w->edit.keep_table = false;
    w->edit.bits = Qcow2BitmapBits::empty(w->edit.entry.granularity_bits, image_->size());
    changed_ = true;
    return Ok();
  }

  Result<void> set_enabled(const std::string& name, bool enabled) {
    TRY_ASSIGN(Working * w, lookup(name, true));
    uint32_t& flags = w->edit.entry.flags;
    flags = enabled ? flags | block::qcow2::kBitmapAuto : flags & ~block::qcow2::kBitmapAuto;
    changed_ = true;
    return Ok();
  }

  // `from` holds the source bitmap: this editor, or the -b image's.
  Result<void> merge(const std::string& name, const std::string& source, BitmapEditor& from) {
    TRY_ASSIGN(Working * dst, lookup(name, true));
    TRY_ASSIGN(Working * src, from.lookup(source, true));
    if (src == dst) return Ok();
    const uint64_t dst_size = image_->size(), src_size = from.image_->size();
    if (dst_size != src_size) {
      return Error("Bitmaps are of different sizes (destination size is " +
                   std::to_string(dst_size) + ", source size is " + std::to_string(src_size) +
                   ") and can't be merged");
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

  Result<void> store() {
    std::vector<Qcow2BitmapEdit> edits;
    for (const Working& w : bitmaps_) edits.push_back(w.edit);
    return image_->store_bitmaps(edits);
  }

 private:
  // qemu's checks before it makes a bitmap persistent (qcow2's
  // can_store_new_dirty_bitmap), with its wording.
  Result<void> check_storable(const std::string& name, uint32_t granularity) const {
    auto refuse = [&](const std::string& why) {
      return Error("Can't make bitmap '" + name + "' persistent in '" + path_ + "': " + why);
    };
    namespace q = block::qcow2;
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

  // The bitmap called `name`; `usable`: one that is not in use
  // (inconsistent), which only --remove may touch.
  Result<Working*> lookup(const std::string& name, bool usable) {
    Working* w = find(name);
    if (w == nullptr) return Error("Dirty bitmap '" + name + "' not found");
    if (usable && w->edit.entry.in_use()) return Error(inconsistent(name));
    return w;
  }

  block::Qcow2Image* image_;
  std::string path_;
  std::vector<Working> bitmaps_;
  bool changed_ = false;
};

}  // namespace

int bitmap_verb(std::span<const std::string_view> args) {
  enum {
    kAdd,
    kRemove,
    kClear,
    kEnable,
    kDisable,
    kMerge,
    kSource,
    kSourceFormat,
    kGranularity,
    kFormat,
    kHelp,
    kHelpLong
  };
  const ImgOption specs[] = {
      {0, "add", false},    {0, "remove", false},  {0, "clear", false},
      {0, "enable", false}, {0, "disable", false}, {0, "merge", true, Repeat::kAddsUp},
      {'b', "", true},      {'F', "", true},       {'g', "", true},
      {'f', "", true},      {'h', "", false},      {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "bitmap", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::vector<Action> actions;
  std::string format, source_file, source_format;
  uint64_t granularity = 0;
  bool has_add = false, has_merge = false, has_granularity = false;
  for (const auto& [index, value] : parsed->options) {
    switch (index) {
      case kAdd:
      case kRemove:
      case kClear:
      case kEnable:
      case kDisable:
      case kMerge:
        actions.push_back({static_cast<Op>(index), value});
        has_add |= index == kAdd;
        has_merge |= index == kMerge;
        break;
      case kSource:
        source_file = value;
        break;
      case kSourceFormat:
        if (!take_format_option(value, source_format)) return kExitError;
        break;
      case kGranularity: {
        // qemu-img reads it as a size (cvtsize), negative numbers refused.
        auto size = value.starts_with("-") ? Result<uint64_t>(Error("")) : parse_img_size(value);
        if (!size) {
          return fail(
              "Invalid granularity specified. You may use k, M, G, T, P or E suffixes for "
              "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        }
        granularity = *size;
        has_granularity = *size != 0;
        break;
      }
      case kFormat:
        if (!take_format_option(value, format)) return kExitError;
        break;
      case kHelp:
      case kHelpLong:
        print_help();
        return 0;
      default:
        break;
    }
  }
  // qemu-img's checks, in its order.
  if (actions.empty()) {
    return fail("Need at least one of --add, --remove, --clear, --enable, --disable, or --merge");
  }
  if (has_granularity && !has_add) return fail("granularity only supported with --add");
  if (!source_format.empty() && source_file.empty()) return fail("-F only supported with -b");
  if (!source_file.empty() && !has_merge) {
    return fail("Merge bitmap source file only supported with --merge");
  }
  if (parsed->positional.size() != 2) return fail("Expecting filename and bitmap name");
  const std::string& bitmap = parsed->positional[1];

  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());
  auto image = open_image(*spec, true);
  if (!image) return fail(image.error().message());
  BitmapEditor editor(image->qcow2, spec->name);

  // The -b image, read-only. (qemu-img opens it at the first merge, after
  // the operations before it; a source that cannot be opened fails here
  // before any.)
  std::optional<OpenedImage> source_image;
  std::optional<BitmapEditor> source_editor;
  if (!source_file.empty()) {
    auto source_spec = image_args->spec(source_file, source_format, ImageNameSyntax::kName);
    if (!source_spec) return fail(source_spec.error().message());
    auto opened = open_image(*source_spec, false);
    if (!opened) return fail(opened.error().message());
    source_image = std::move(*opened);
    source_editor.emplace(source_image->qcow2, source_spec->name);
  }
  BitmapEditor& merge_source = source_editor ? *source_editor : editor;
  auto run = [&](const Action& a) -> Result<void> {
    switch (a.op) {
      case Op::kAdd:
        return editor.add(bitmap, granularity);
      case Op::kRemove:
        return editor.remove(bitmap);
      case Op::kClear:
        return editor.clear(bitmap);
      case Op::kEnable:
        return editor.set_enabled(bitmap, true);
      case Op::kDisable:
        return editor.set_enabled(bitmap, false);
      case Op::kMerge:
        return editor.merge(bitmap, a.source, merge_source);
    }
    return Ok();
  };
  std::optional<std::string> failure;
  for (const Action& a : actions) {
    auto done = run(a);
    if (done.ok()) continue;
    failure = "Operation " + std::string(kOpNames[static_cast<int>(a.op)]) + " on bitmap " +
              bitmap + " failed: " + done.error().message();
    break;
  }
  if (image->qcow2 != nullptr) {
    auto stored = editor.changed() ? editor.store() : Ok();
    if (stored) stored = image->qcow2->close();
    if (!stored && !failure) failure = stored.error().message();
  }
  if (failure) return fail(*failure);
  return 0;
}

}  // namespace vessel::cli::img

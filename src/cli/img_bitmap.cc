// vessel img bitmap: adds, removes, clears, enables, disables and merges the
// persistent dirty bitmaps of a qcow2 image, like qemu-img bitmap. The
// operations run in the order given, on the bitmaps in memory; what they
// leave is stored in one go (Qcow2Image::store_bitmaps), also when one of
// them fails, since qemu-img too keeps what the operations before the
// failing one did. The errors are qemu-img's ("Operation add on bitmap b0
// failed: Bitmap already exists: b0").
#include <cstdio>
#include <optional>

#include "cli/img_bitmap_editor.h"
#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

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
      "Enabled bitmaps record every write Vessel makes to the image (vessel img,\n"
      "vessel run), as QEMU's do; while the image is open for writing they are\n"
      "marked in use, and one found so (left by a crash) is inconsistent: only\n"
      "--remove may touch it.\n"
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

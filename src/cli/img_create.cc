// vessel img create: new raw and qcow2 images, qemu-img's options.
#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/create.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img create [-q] [-f fmt] [-b backing_file -F backing_fmt] [-u]\n"
      "                         [-o options] filename [size]\n"
      "\n"
      "Creates a disk image (replacing any file of that name).\n"
      "\n"
      "Options:\n"
      "  -f fmt           raw (default) or qcow2\n"
      "  -b backing_file  qcow2 only: the image reads through to this file where it\n"
      "                   has no data of its own; size defaults to its size\n"
      "  -F backing_fmt   the backing file's format (raw or qcow2; probed if absent)\n"
      "  -u               do not open the backing file (size must then be given)\n"
      "  -o options       comma-separated key=value list ('-o help' lists them)\n"
      "  -q               quiet: no 'Formatting ...' line\n"
      "  -h, --help       show this help\n"
      "\n"
      "size: bytes, or with a suffix k, M, G, T, P, E (e.g. 10G).\n"
      "\n"
      "qcow2 options (-o):\n"
      "  size=SIZE                 virtual disk size\n"
      "  compat=0.10|1.1           qcow2 version 2 or 3 (default 1.1)\n"
      "  cluster_size=SIZE         512 to 2M, a power of two (default 64k)\n"
      "  refcount_bits=N           1, 2, 4, 8, 16, 32 or 64 (default 16)\n"
      "  lazy_refcounts=on|off     compat=1.1 only (default off)\n"
      "  preallocation=off|metadata\n"
      "  compression_type=zlib|zstd  (zstd needs compat=1.1)\n"
      "  extended_l2=on|off        32 subclusters per cluster, allocated one by one\n"
      "                            (compat=1.1, cluster_size 16k or more; default off)\n"
      "  data_file=FILE            guest data goes to FILE (created, replacing any file\n"
      "                            there), at the guest offsets; the image keeps only the\n"
      "                            metadata (compat=1.1). A relative FILE is relative to\n"
      "                            the current directory, as with qemu-img\n"
      "  data_file_raw=on|off      FILE alone stays a valid raw image of the disk (needs\n"
      "                            data_file, no backing file; implies metadata\n"
      "                            preallocation)\n"
      "  backing_file=FILE, backing_fmt=FMT  as -b and -F\n"
      "raw options (-o):\n"
      "  size=SIZE, preallocation=off|falloc|full\n"
      "both formats (-o):\n"
      "  extent_size_hint=SIZE     the new files' extent size hint (FS_IOC_FSSETXATTR;\n"
      "                            XFS allocates sparse files in extents of this size),\n"
      "                            default 1M, 0 to disable, at most 4G - 1; where the\n"
      "                            file system refuses it a given one is a warning\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kObject);
}

}  // namespace

int create_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOptions, kBacking, kBackingFormat, kUnsafe, kQuiet, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {'o', "", true, Repeat::kAddsUp},
                             {'b', "", true},  {'F', "", true},
                             {'u', "", false}, {'q', "", false},
                             {'h', "", false}, {0, "help", false}};
  // qemu-img create takes --object (secrets for encryption) but no
  // --image-opts.
  auto parsed = parse_img_args(args, specs, "create", kObject);
  if (!parsed) return fail(parsed.error().message());
  int status = 0;
  if (!take_image_args(*parsed, "", status)) return status;

  block::ImageFormat format = block::ImageFormat::kRaw;
  std::vector<std::string> option_lists;
  std::string backing, backing_format;
  bool unsafe = false, quiet = false;
  for (const auto& [index, value] : parsed->options) {
    switch (index) {
      case kFormat: {
        auto f = parse_format_option(value);
        if (!f) return fail(f.error().message());
        format = *f;
        break;
      }
      case kOptions:
        option_lists.push_back(value);
        break;
      case kBacking:
        backing = value;
        break;
      case kBackingFormat:
        backing_format = value;
        break;
      case kUnsafe:
        unsafe = true;
        break;
      case kQuiet:
        quiet = true;
        break;
      default:
        print_help();
        return 0;
    }
  }

  auto options = storage::parse_img_create_options(format, option_lists);
  if (!options) return fail(options.error().message());
  if (options->help) {
    std::fputs(storage::create_options_help(format).c_str(), stdout);
    return 0;
  }

  const auto& pos = parsed->positional;
  if (pos.empty()) return fail("expecting image file name (see 'vessel img create --help')");
  if (pos.size() > 2) return fail("unexpected argument '" + pos[2] + "'");
  storage::CreateRequest request;
  request.path = pos[0];
  request.format = format;
  request.options = std::move(*options);
  if (pos.size() == 2) {
    auto s = parse_img_size(pos[1]);
    if (!s) return fail(s.error().message());
    request.size = *s;
  }
  request.backing_file = backing;
  request.backing_format = backing_format;
  request.backing_check = unsafe ? storage::BackingCheck::kUnchecked : storage::BackingCheck::kOpen;
  auto plan = storage::plan_create(std::move(request));
  if (!plan) return fail(plan.error().message());

  if (!quiet) {
    std::printf("%s\n", plan->formatting_line().c_str());
    std::fflush(stdout);
  }
  auto created = storage::create_image(*plan, warn);
  if (!created) return fail(created.error().message());
  return 0;
}

}  // namespace vessel::cli::img

// vessel img compare: are two images' guest-visible contents the same?
#include <algorithm>
#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

constexpr int kExitDifferent = 1;
constexpr int kExitCompareError = 2;

void print_help() {
  std::printf(
      "Usage: vessel img compare [-q] [-f fmt] [-F fmt] [-s] [-p] [-U] filename1 filename2\n"
      "\n"
      "Compares the contents two images show a guest (backing chains included).\n"
      "Images of different sizes are equal when the larger one is zero past the\n"
      "end of the smaller one (unless -s).\n"
      "\n"
      "Options:\n"
      "  -f fmt       format of filename1: raw or qcow2 (probed when absent)\n"
      "  -F fmt       format of filename2\n"
      "  -s           strict: a size difference is a difference\n"
      "  -p           show progress on stderr\n"
      "  -q           quiet: only the exit status tells\n"
      "  -U           accepted for compatibility (images are never locked)\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status:\n"
      "  0  the images are identical\n"
      "  1  the images differ ('Content mismatch at offset N!')\n"
      "  2  error opening or reading an image\n");
  print_image_args_help(kImageArgs);
}

// The 512-byte sector holding the first difference, as qemu-img reports it.
uint64_t mismatch_offset(uint64_t base, std::span<const uint8_t> a, std::span<const uint8_t> b) {
  auto diff = std::mismatch(a.begin(), a.end(), b.begin());
  return (base + static_cast<uint64_t>(diff.first - a.begin())) / 512 * 512;
}

}  // namespace

int compare_verb(std::span<const std::string_view> args) {
  enum { kFormat1, kFormat2, kStrict, kProgress, kQuiet, kShare, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {'F', "", true},   {'s', "", false},
                             {'p', "", false}, {'q', "", false},  {'U', "", false},
                             {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "compare", kImageArgs);
  auto error = [](const std::string& m) {
    fail(m);
    return kExitCompareError;
  };
  if (!parsed) return error(parsed.error().message());
  std::string f1, f2;
  bool strict = false, progress = false, quiet = false;
  for (const auto& [index, value] : parsed->options) {
    switch (index) {
      case kFormat1:
      case kFormat2: {
        auto f = parse_format_option(value);
        if (!f) return error(f.error().message());
        (index == kFormat1 ? f1 : f2) = value;
        break;
      }
      case kStrict:
        strict = true;
        break;
      case kProgress:
        progress = true;
        break;
      case kQuiet:
        quiet = true;
        break;
      case kHelp:
      case kHelpLong:
        print_help();
        return 0;
      default:
        break;
    }
  }
  const auto& pos = parsed->positional;
  if (pos.size() != 2)
    return error("expecting two image file names (see 'vessel img compare --help')");
  auto image_args = ImageArgs::from(*parsed, "");
  if (!image_args) return error(image_args.error().message());
  if (image_args->help_printed()) return 0;
  auto spec_a = image_args->spec(pos[0], f1);
  if (!spec_a) return error(spec_a.error().message());
  auto a = open_image(*spec_a, false);
  if (!a) return error(a.error().message());
  auto spec_b = image_args->spec(pos[1], f2);
  if (!spec_b) return error(spec_b.error().message());
  auto b = open_image(*spec_b, false);
  if (!b) return error(b.error().message());
  const uint64_t size_a = a->backend->size(), size_b = b->backend->size();
  if (size_a != size_b) {
    if (strict) {
      if (!quiet) std::printf("Strict mode: Image size mismatch!\n");
      return kExitDifferent;
    }
    if (!quiet) std::printf("Warning: Image size mismatch!\n");
  }
  const uint64_t common = std::min(size_a, size_b), total = std::max(size_a, size_b);
  constexpr uint64_t kStep = 1 << 20;
  std::vector<uint8_t> ba(kStep), bb(kStep);
  Progress bar(progress);
  for (uint64_t off = 0; off < common; off += kStep) {
    uint64_t len = std::min(kStep, common - off);
    std::span<uint8_t> sa(ba.data(), len), sb(bb.data(), len);
    if (auto r = a->backend->read(off, sa); !r) return error(r.error().message());
    if (auto r = b->backend->read(off, sb); !r) return error(r.error().message());
    if (!std::equal(sa.begin(), sa.end(), sb.begin())) {
      bar.finish();
      if (!quiet) {
        std::printf("Content mismatch at offset %llu!\n",
                    static_cast<unsigned long long>(mismatch_offset(off, sa, sb)));
      }
      return kExitDifferent;
    }
    bar.update(off + len, total);
  }
  OpenedImage& larger = size_a > size_b ? *a : *b;
  for (uint64_t off = common; off < total; off += kStep) {
    uint64_t len = std::min(kStep, total - off);
    std::span<uint8_t> s(ba.data(), len);
    if (auto r = larger.backend->read(off, s); !r) return error(r.error().message());
    if (!is_zero(s)) {
      bar.finish();
      if (!quiet) {
        auto nz = std::find_if(s.begin(), s.end(), [](uint8_t v) { return v != 0; });
        std::printf("Content mismatch at offset %llu!\n",
                    static_cast<unsigned long long>((off + static_cast<uint64_t>(nz - s.begin())) /
                                                    512 * 512));
      }
      return kExitDifferent;
    }
    bar.update(off + len, total);
  }
  bar.finish();
  if (!quiet) std::printf("Images are identical.\n");
  return 0;
}

}  // namespace vessel::cli::img

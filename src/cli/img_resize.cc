// vessel img resize: raw images by truncating the file, qcow2 images through
// the block layer (Qcow2Image::resize).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

void print_resize_help() {
  std::printf(
      "Usage: vessel img resize [-q] [-f fmt] [--shrink] filename [+ | -]size\n"
      "\n"
      "Changes the virtual size of an image: to 'size', or by '+size'/'-size'.\n"
      "Internal snapshots of qcow2 (compat=1.1) images are kept.\n"
      "\n"
      "Options:\n"
      "  -f fmt       raw or qcow2 (probed when absent)\n"
      "  --shrink     allow making the image smaller (its tail is lost)\n"
      "  -q           quiet\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

}  // namespace

int resize_verb(std::span<const std::string_view> args) {
  enum { kFormat, kShrink, kQuiet, kShare, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {0, "shrink", false}, {'q', "", false},
                             {'U', "", false}, {'h', "", false},     {0, "help", false}};
  // "-1G" is a size, not an option: take the last argument aside first.
  if (args.size() >= 2 && args[args.size() - 2] != "--" && args.back().size() > 1 &&
      args.back()[0] == '-' && args.back()[1] >= '0' && args.back()[1] <= '9') {
    std::vector<std::string_view> head(args.begin(), args.end() - 1);
    head.push_back("--");
    head.push_back(args.back());
    return resize_verb(head);
  }
  auto parsed = parse_img_args(args, specs, "resize", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  bool shrink = false, quiet = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kShrink) {
      shrink = true;
    } else if (index == kQuiet) {
      quiet = true;
    } else if (index == kHelp || index == kHelpLong) {
      print_resize_help();
      return 0;
    }
  }
  const auto& pos = parsed->positional;
  if (pos.size() != 2)
    return fail("expecting a file name and a size (see 'vessel img resize --help')");
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(pos[0]);
  if (!spec) return fail(spec.error().message());
  const std::string& path = spec->path;
  std::string_view size_text = pos[1];
  int sign = 0;
  if (size_text.starts_with("+")) sign = 1;
  if (size_text.starts_with("-")) sign = -1;
  if (sign != 0) size_text.remove_prefix(1);
  auto amount = parse_img_size(size_text);
  if (!amount) return fail(amount.error().message());

  auto image = open_image(*spec, true);
  if (!image) return fail(image.error().message());
  const uint64_t current = image->backend->size();
  uint64_t target = *amount;
  if (sign > 0) {
    if (current > UINT64_MAX - *amount) return fail(path + ": new size is too large");
    target = current + *amount;
  } else if (sign < 0) {
    if (*amount > current) return fail(path + ": new size would be negative");
    target = current - *amount;
  }
  if (target < current && !shrink) {
    return fail(path + ": use the --shrink option to make the image smaller (" +
                std::to_string(current) + " -> " + std::to_string(target) +
                " bytes); its tail would be lost");
  }
  if (image->qcow2 != nullptr) {
    auto resized = image->qcow2->resize(target, shrink);
    if (resized) resized = image->qcow2->close();
    if (!resized) return fail(resized.error().message());
    if (!quiet) std::printf("Image resized.\n");
    return 0;
  }
  image->backend.reset();
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(path + ": " + std::strerror(errno));
  int rc = ftruncate(fd, static_cast<off_t>(target));
  int saved = errno;
  ::close(fd);
  if (rc != 0) return fail(path + ": cannot resize: " + std::strerror(saved));
  if (!quiet) std::printf("Image resized.\n");
  return 0;
}

}  // namespace vessel::cli::img

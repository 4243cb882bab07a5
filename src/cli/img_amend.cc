// vessel img amend: changes the qcow2 options that need no conversion (compat
// level, lazy refcounts, size), with qemu-img's option checks and messages.
#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img amend [-p] [-q] [-f fmt] -o options filename\n"
      "\n"
      "Changes options of an existing qcow2 image in place.\n"
      "\n"
      "Options:\n"
      "  -f fmt       qcow2 (the only format with amendable options; probed if absent)\n"
      "  -o options   comma-separated key=value list ('-o help' lists them)\n"
      "  -p           progress (accepted; the changes are quick)\n"
      "  -q           quiet\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

void print_option_help() {
  std::printf(
      "Amend options for 'qcow2':\n"
      "  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])\n"
      "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
      "  size=<size>            - Virtual disk size\n");
}

// Options qemu-img knows for qcow2 but only when creating an image.
bool creation_only(std::string_view key) {
  return key == "cluster_size" || key == "preallocation" || key == "compression_type" ||
         key == "extended_l2" || key == "nocow" || key == "encryption" || key == "encrypt.format";
}

}  // namespace

int amend_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOptions, kProgress, kQuiet, kCache, kForce, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {'o', "", true, Repeat::kAddsUp},
                             {'p', "", false}, {'q', "", false},
                             {'t', "", true},  {0, "force", false},
                             {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "amend", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  std::vector<std::string> option_lists;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      format = value;
    } else if (index == kOptions) {
      option_lists.push_back(value);
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  auto items = split_img_options(option_lists);
  for (const auto& [key, value] : items) {
    if (key == "help" || key == "?") {
      print_option_help();
      return 0;
    }
  }
  if (option_lists.empty()) return fail("Must specify options (-o)");
  const auto& pos = parsed->positional;
  if (auto one = expect_one_image(*parsed, "amend"); !one) return fail(one.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(pos[0]);
  if (!spec) return fail(spec.error().message());
  const std::string& path = spec->path;
  if (!spec->format.empty()) {
    auto f = parse_format_option(spec->format);
    if (!f) return fail(f.error().message());
    if (*f != block::ImageFormat::kQcow2) {
      return fail("Format driver '" + spec->format + "' does not support option amendment");
    }
  }

  block::Qcow2AmendOptions amend;
  bool set_size = false;
  uint64_t size = 0;
  std::string backing_file, backing_format;
  bool set_backing_file = false, set_backing_format = false;
  unsigned refcount_bits = 0;  // 0: not given
  for (const auto& [key, value] : items) {
    if (key == "compat") {
      auto v = block::parse_qcow2_compat(value);
      if (!v) return fail("Unknown compatibility level " + value);
      amend.set_version = true;
      amend.version = *v;
    } else if (key == "lazy_refcounts") {
      auto b = parse_img_bool(key, value);
      if (!b) return fail(b.error().message());
      amend.set_lazy_refcounts = true;
      amend.lazy_refcounts = *b;
    } else if (key == "size") {
      auto s = parse_img_size(value);
      if (!s) return fail(s.error().message());
      set_size = true;
      size = *s;
    } else if (key == "backing_file") {
      set_backing_file = true;
      backing_file = value;
    } else if (key == "backing_fmt") {
      set_backing_format = true;
      backing_format = value;
    } else if (key == "refcount_bits") {
      // Accepted when it changes nothing; a new width needs a conversion.
      auto bits = block::parse_qcow2_refcount_bits(value);
      if (!bits) return fail(bits.error().message());
      refcount_bits = *bits;
    } else if (creation_only(key)) {
      return fail("Invalid parameter '" + key +
                  "': this option is only supported for image creation");
    } else {
      return fail("Invalid parameter '" + key + "'");
    }
  }

  auto image = open_image(*spec, true);
  if (!image) return fail(image.error().message());
  block::Qcow2Image* q = image->qcow2;
  if (q == nullptr) return fail("Format driver 'raw' does not support option amendment");
  if ((set_backing_file && backing_file != q->info().backing_file) ||
      (set_backing_format && backing_format != q->info().backing_format)) {
    return fail(path + ": Cannot amend the backing file (use 'vessel img rebase' instead)");
  }
  // Accepted when it changes nothing; a new width needs a conversion.
  if (refcount_bits != 0 && refcount_bits != q->info().refcount_bits) {
    return fail(path +
                ": changing the refcount width is not supported (convert the image with "
                "-o refcount_bits=" +
                std::to_string(refcount_bits) + ")");
  }
  auto done = q->amend(amend);
  if (done && set_size) done = q->resize(size, true);
  if (done) done = q->close();
  if (!done) return fail(done.error().message());
  return 0;
}

}  // namespace vessel::cli::img

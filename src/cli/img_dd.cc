// vessel img dd: qemu-img's dd — copies the input image, or a part of it
// chosen by block size, skip and count, into a new image of any format.
#include <cstdio>
#include <optional>
#include <vector>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/create_options.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img dd [-f fmt] [-O output_fmt] [-U] [bs=block_size] [count=blocks]\n"
      "                     [skip=blocks] if=input of=output\n"
      "\n"
      "Creates 'output' (raw by default, or -O qcow2) and copies 'input' into it\n"
      "by blocks, like dd(1), with qemu-img dd's rules for its size:\n"
      "  bs=N        block size in bytes (suffixes k, M, G...; default 512)\n"
      "  count=N     copy at most N blocks (the size is N blocks, minus the skip)\n"
      "  skip=N      start N blocks into the input\n"
      "  if=FILE     the input image (-f fmt; probed when absent)\n"
      "  of=FILE     the output image, created anew\n"
      "\n"
      "Options:\n"
      "  -f fmt          input format: raw or qcow2\n"
      "  -O output_fmt   output format: raw (default) or qcow2\n"
      "  -U              accepted for compatibility (images are never locked)\n"
      "  -h, --help      show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

struct DdOperands {
  uint64_t block_size = 512;
  std::optional<uint64_t> count;
  uint64_t skip = 0;
  std::string input, output;
};

// "bs=64k count=3 if=a of=b": each operand once, as qemu-img reads them.
Result<DdOperands> parse_operands(std::span<const std::string> words) {
  DdOperands dd;
  for (const std::string& word : words) {
    size_t eq = word.find('=');
    std::string key = word.substr(0, eq);
    std::string value = eq == std::string::npos ? std::string() : word.substr(eq + 1);
    if (key == "if") {
      dd.input = value;
    } else if (key == "of") {
      dd.output = value;
    } else if (key == "bs" || key == "count" || key == "skip") {
      auto n = parse_img_size(value);
      if (!n) {
        return Error("Invalid " + key +
                     " specified. You may use k, M, G, T, P or E suffixes for kilobytes, "
                     "megabytes, gigabytes, terabytes, petabytes and exabytes.");
      }
      if (key == "bs") {
        if (*n == 0 || *n > INT32_MAX) {
          return Error("Invalid bs specified. Must be between 1 and " + std::to_string(INT32_MAX) +
                       ".");
        }
        dd.block_size = *n;
      } else if (key == "count") {
        dd.count = *n;
      } else {
        dd.skip = *n;
      }
    } else {
      return Error("unrecognized operand " + key);
    }
  }
  if (dd.input.empty() || dd.output.empty()) {
    return Error("Must specify both input and output files");
  }
  return dd;
}

}  // namespace

int dd_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOutFormat, kShare, kHelp, kHelpLong };
  const ImgOption specs[] = {
      {'f', "", true}, {'O', "", true}, {'U', "", false}, {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "dd", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string in_format, out_format = "raw";
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, in_format)) return kExitError;
    } else if (index == kOutFormat) {
      if (!take_format_option(value, out_format)) return kExitError;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  auto dd = parse_operands(parsed->positional);
  if (!dd) return fail(dd.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, in_format, status);
  if (!image_args) return status;
  auto in_spec = image_args->spec(dd->input);
  if (!in_spec) return fail(in_spec.error().message());
  auto in = open_image(*in_spec, false);
  if (!in) return fail(in.error().message());

  // qemu-img dd's arithmetic: count limits the size first, then the skipped
  // bytes come off it (so count=3 skip=2 copies one block).
  uint64_t size = in->backend->size();
  const uint64_t bs = dd->block_size;
  if (dd->count && *dd->count <= INT64_MAX / bs && size > *dd->count * bs) size = *dd->count * bs;
  const bool skip_past_end = dd->skip > INT64_MAX / bs || size < dd->skip * bs;
  const uint64_t out_size = skip_past_end ? 0 : size - dd->skip * bs;
  auto format = parse_format_option(out_format);
  if (!format) return fail(format.error().message());
  // A new image with create's defaults (qemu-img dd creates it so too).
  storage::ImgCreateOptions defaults;
  const uint64_t create_size = (out_size + 511) / 512 * 512;
  Result<void> made = Ok();
  if (*format == block::ImageFormat::kQcow2) {
    block::Qcow2CreateOptions qcow2 = storage::qcow2_create_options(defaults, warn);
    qcow2.size = create_size;
    made = block::Qcow2Image::create(dd->output, qcow2);
  } else {
    made = storage::create_raw_image(dd->output, create_size, defaults, warn);
  }
  if (!made) return fail(made.error().message());
  auto out = open_image(dd->output, out_format, true);
  if (!out) return fail(out.error().message());
  uint64_t in_pos = dd->skip * bs;
  if (skip_past_end) {
    // Like dd(1): a warning and an empty output, not a failure.
    std::fprintf(stderr, "vessel: error: %s: cannot skip to specified offset\n", dd->input.c_str());
    in_pos = size;
  }
  std::vector<uint8_t> buffer(bs);
  for (uint64_t out_pos = 0; in_pos < size;) {
    std::span<uint8_t> block(buffer.data(), std::min(bs, size - in_pos));
    if (auto r = in->backend->read(in_pos, block); !r) return fail(r.error().message());
    if (auto w = out->backend->write(out_pos, block); !w) return fail(w.error().message());
    in_pos += block.size();
    out_pos += block.size();
  }
  Result<void> done = out->qcow2 != nullptr ? out->qcow2->close() : out->backend->flush();
  if (!done) return fail(done.error().message());
  return 0;
}

}  // namespace vessel::cli::img

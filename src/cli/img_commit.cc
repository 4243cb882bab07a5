// vessel img commit: qemu-img commit's options and output around the
// commit operation (storage/commit.h).
#include <cstdio>
#include <optional>
#include <utility>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/commit.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img commit [-q] [-f fmt] [-b base] [-d] [-p] filename\n"
      "\n"
      "Copies every cluster 'filename' holds into its backing file, then empties\n"
      "'filename' so that it reads through to the updated backing file.\n"
      "\n"
      "Options:\n"
      "  -f fmt       format of 'filename' (qcow2; probed when absent)\n"
      "  -b base      commit into this deeper image of the backing chain (implies -d;\n"
      "               the images in between are no longer valid afterwards)\n"
      "  -d           keep the contents of 'filename' (do not empty it)\n"
      "  -p           show progress\n"
      "  -q           quiet\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

}  // namespace

int commit_verb(std::span<const std::string_view> args) {
  enum { kFormat, kBase, kDrop, kProgress, kQuiet, kCache, kRate, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {'b', "", true},  {'d', "", false},
                             {'p', "", false}, {'q', "", false}, {'t', "", true},
                             {'r', "", true},  {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "commit", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  std::optional<std::string> base_name;
  bool drop = false, progress = false, quiet = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kBase) {
      base_name = value;
      drop = true;  // "-b implies -d": the top stays valid
    } else if (index == kDrop) {
      drop = true;
    } else if (index == kProgress) {
      progress = true;
    } else if (index == kQuiet) {
      quiet = true;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (auto one = expect_one_image(*parsed, "commit"); !one) return fail(one.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());
  storage::CommitRequest request;
  request.top = std::move(*spec);
  request.base = base_name;
  request.top_after = drop ? storage::CommitTop::kKeep : storage::CommitTop::kEmpty;
  Progress bar(progress && !quiet);
  auto committed = storage::commit_image(
      request, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
  if (!committed) return fail(committed.error().message());
  bar.finish();
  if (!quiet) std::printf("Image committed.\n");
  return 0;
}

}  // namespace vessel::cli::img

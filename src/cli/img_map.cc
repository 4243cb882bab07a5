// vessel img map: where each part of the guest disk is stored, through the
// backing chain, in qemu-img map's model and output formats.
#include <cstdio>
#include <vector>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/chain.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img map [-f fmt] [--output=human|json] [-U] FILE\n"
      "\n"
      "Shows how the image's guest-visible bytes are stored, following the backing\n"
      "chain: for each extent its depth in the chain (0 = FILE itself), whether it\n"
      "is present, reads as zeros, holds data, and where (offset) in which file.\n"
      "\n"
      "Options:\n"
      "  -f FMT            format of FILE: raw or qcow2 (default: probed)\n"
      "  --output=FORMAT   human (default: the data extents) or json (every extent)\n"
      "\n"
      "Exit status: 0 on success, 1 on error.\n");
  print_image_args_help(kImageArgs);
}

bool mergeable(const storage::Extent& a, const storage::Extent& b) {
  return a.depth == b.depth && a.present == b.present && a.zero == b.zero && a.data == b.data &&
         a.has_offset == b.has_offset && a.file == b.file &&
         (!a.has_offset || a.offset + a.length == b.offset);
}

const char* flag(bool b) {
  return b ? "true" : "false";
}

}  // namespace

int map_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOutput, kShare, kShareLong, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},           {0, "output", true}, {'U', "", false},
                             {0, "force-share", false}, {'h', "", false},    {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "map", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  bool json = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kOutput) {
      if (!take_output_option(value, json)) return kExitError;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (auto one = expect_one_image(*parsed, "map"); !one) return fail(one.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());
  auto chain = storage::open_chain(*spec);
  if (!chain) return fail(chain.error().message());

  std::vector<storage::Extent> extents;
  const uint64_t size = (*chain)[0]->backend->size();
  for (uint64_t pos = 0; pos < size;) {
    auto e = storage::extent_at(*chain, 0, pos, size - pos);
    if (!e) return fail(e.error().message());
    if (!extents.empty() && mergeable(extents.back(), *e)) {
      extents.back().length += e->length;
    } else {
      extents.push_back(*e);
    }
    pos += e->length;
  }

  if (json) {
    std::printf("[");
    for (size_t i = 0; i < extents.size(); ++i) {
      const storage::Extent& e = extents[i];
      std::printf(
          "%s{ \"start\": %llu, \"length\": %llu, \"depth\": %u, \"present\": %s, "
          "\"zero\": %s, \"data\": %s",
          i ? ",\n" : "", static_cast<unsigned long long>(e.start),
          static_cast<unsigned long long>(e.length), e.depth, flag(e.present), flag(e.zero),
          flag(e.data));
      if (e.has_offset)
        std::printf(", \"offset\": %llu", static_cast<unsigned long long>(e.offset));
      std::printf("}");
    }
    std::printf("]\n");
    return 0;
  }
  std::printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
  for (const storage::Extent& e : extents) {
    if (!e.data || e.zero || !e.has_offset) continue;  // as qemu-img: data that is not zeros
    std::printf("%#-16llx%#-16llx%#-16llx%s\n", static_cast<unsigned long long>(e.start),
                static_cast<unsigned long long>(e.length),
                static_cast<unsigned long long>(e.offset), e.file.c_str());
  }
  return 0;
}

}  // namespace vessel::cli::img

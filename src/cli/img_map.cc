// vessel img map: where each part of the guest disk is stored, through the
// backing chain, in qemu-img map's model and output formats.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "cli/img_common.h"
#include "cli/img_verbs.h"

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
}

struct Extent {
  uint64_t start = 0;
  uint64_t length = 0;
  unsigned depth = 0;
  bool present = false;
  bool zero = true;
  bool data = false;
  bool has_offset = false;
  uint64_t offset = 0;
  std::string file;
};

// One image of the chain: the top first, each next one its backing file.
struct Layer {
  std::string path;
  std::unique_ptr<block::BlockBackend> backend;
  block::Qcow2Image* qcow2 = nullptr;  // null: raw
  int raw_fd = -1;                     // raw layers: for SEEK_DATA / SEEK_HOLE
  ~Layer() {
    if (raw_fd >= 0) ::close(raw_fd);
  }
};

Result<std::vector<std::unique_ptr<Layer>>> open_chain(const std::string& path,
                                                       const std::string& format) {
  std::vector<std::unique_ptr<Layer>> chain;
  std::string next_path = path, next_format = format;
  while (!next_path.empty()) {
    if (chain.size() > 64) return Error(path + ": backing chain is too deep");
    TRY_ASSIGN(OpenedImage opened, open_image(next_path, next_format, false));
    auto layer = std::make_unique<Layer>();
    layer->path = next_path;
    layer->qcow2 = opened.qcow2;
    layer->backend = std::move(opened.backend);
    next_path.clear();
    if (layer->qcow2 != nullptr) {
      const auto& info = layer->qcow2->info();
      if (!info.backing_file.empty()) {
        next_path = resolve_backing_path(layer->path, info.backing_file);
        next_format = info.backing_format;
      }
    } else {
      layer->raw_fd = ::open(layer->path.c_str(), O_RDONLY | O_CLOEXEC);
      if (layer->raw_fd < 0) return Error(layer->path + ": " + std::strerror(errno));
    }
    chain.push_back(std::move(layer));
  }
  return chain;
}

// The extent of a raw file at `start` (at most `length` bytes): data or hole.
Extent raw_extent(const Layer& layer, unsigned depth, uint64_t start, uint64_t length) {
  Extent e{start, length, depth, true, false, true, true, start, layer.path};
  uint64_t end = start + length;
  off_t data = lseek(layer.raw_fd, static_cast<off_t>(start), SEEK_DATA);
  if (data < 0 || static_cast<uint64_t>(data) > start) {  // a hole at start
    e.zero = true;
    e.data = false;
    uint64_t hole_end = data < 0 ? end : static_cast<uint64_t>(data);
    e.length = std::min(end, hole_end) - start;
    return e;
  }
  off_t hole = lseek(layer.raw_fd, static_cast<off_t>(start), SEEK_HOLE);
  uint64_t data_end = hole < 0 ? end : static_cast<uint64_t>(hole);
  e.length = std::min(end, data_end) - start;
  return e;
}

// The extent at `start` as seen from layer `depth` of the chain.
Result<Extent> extent_at(const std::vector<std::unique_ptr<Layer>>& chain, unsigned depth,
                         uint64_t start, uint64_t length) {
  const Layer& layer = *chain[depth];
  uint64_t size = layer.backend->size();
  if (start >= size) {  // past the end of a shorter backing file: zeros
    return Extent{start, length, depth, false, true, false, false, 0, layer.path};
  }
  length = std::min(length, size - start);
  if (layer.qcow2 == nullptr) return raw_extent(layer, depth, start, length);

  const uint64_t cluster = layer.qcow2->info().cluster_size;
  TRY_ASSIGN(auto where, layer.qcow2->cluster_allocation(start));
  length = std::min(length, where.length);
  using Allocation = block::Qcow2Image::Allocation;
  switch (where.allocation) {
    case Allocation::kData:
      return Extent{start,     length, depth, true,
                    false,     true,   true,  where.host_offset + start % cluster,
                    layer.path};
    case Allocation::kCompressed:
      return Extent{start, length, depth, true, false, true, false, 0, layer.path};
    case Allocation::kZero: {
      // A zero cluster (or subcluster) that keeps its host cluster has an offset.
      bool kept = where.host_offset != 0;
      return Extent{start,     length, depth, true,
                    true,      false,  kept,  kept ? where.host_offset + start % cluster : 0,
                    layer.path};
    }
    case Allocation::kUnallocated:
      break;
  }
  if (depth + 1 < chain.size()) return extent_at(chain, depth + 1, start, length);
  return Extent{start, length, depth, false, true, false, false, 0, layer.path};
}

bool mergeable(const Extent& a, const Extent& b) {
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
  auto parsed = parse_img_args(args, specs, "map");
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  bool json = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (auto f = parse_format_option(value); !f) return fail(f.error().message());
      format = value;
    } else if (index == kOutput) {
      if (value != "json" && value != "human") {
        return fail("--output must be human or json (got '" + value + "')");
      }
      json = value == "json";
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (parsed->positional.size() != 1) {
    return fail("expecting one image file name (see 'vessel img map --help')");
  }
  auto chain = open_chain(parsed->positional[0], format);
  if (!chain) return fail(chain.error().message());

  std::vector<Extent> extents;
  const uint64_t size = (*chain)[0]->backend->size();
  for (uint64_t pos = 0; pos < size;) {
    auto e = extent_at(*chain, 0, pos, size - pos);
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
      const Extent& e = extents[i];
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
  for (const Extent& e : extents) {
    if (!e.data || !e.has_offset) continue;
    std::printf("%#-16llx%#-16llx%#-16llx%s\n", static_cast<unsigned long long>(e.start),
                static_cast<unsigned long long>(e.length),
                static_cast<unsigned long long>(e.offset), e.file.c_str());
  }
  return 0;
}

}  // namespace vessel::cli::img

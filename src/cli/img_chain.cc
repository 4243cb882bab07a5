#include "cli/img_chain.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vessel::cli::img {

Layer::~Layer() {
  if (raw_fd >= 0) ::close(raw_fd);
}

Result<Chain> open_chain(const std::string& path, const std::string& format, bool writable) {
  Chain chain;
  std::string next_path = path, next_format = format;
  while (!next_path.empty()) {
    if (chain.size() > block::qcow2::kMaxBackingChainDepth) {
      return Error(path + ": backing chain is too deep");
    }
    TRY_ASSIGN(OpenedImage opened, open_image(next_path, next_format, writable && chain.empty()));
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

namespace {

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

}  // namespace

Result<Extent> extent_at(const Chain& chain, unsigned depth, uint64_t start, uint64_t length) {
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
      return Extent{start,
                    length,
                    depth,
                    true,
                    false,
                    true,
                    true,
                    where.host_offset + start % cluster,
                    layer.qcow2->data_path()};
    case Allocation::kCompressed:
      return Extent{start, length, depth, true, false, true, false, 0, layer.path};
    case Allocation::kZero: {
      // A zero cluster (or subcluster) that keeps its host cluster has an offset.
      bool kept = where.host_offset != 0;
      return Extent{start,
                    length,
                    depth,
                    true,
                    true,
                    false,
                    kept,
                    kept ? where.host_offset + start % cluster : 0,
                    kept ? layer.qcow2->data_path() : layer.path};
    }
    case Allocation::kUnallocated:
      break;
  }
  if (depth + 1 < chain.size()) return extent_at(chain, depth + 1, start, length);
  return Extent{start, length, depth, false, true, false, false, 0, layer.path};
}

}  // namespace vessel::cli::img

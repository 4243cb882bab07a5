#include "storage/chain.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vessel::storage {

Layer::~Layer() {
  if (host_fd >= 0) ::close(host_fd);
}

namespace {

// QEMU's test (qcow2_detect_metadata_preallocation): the file reaches
// further than the clusters it really has on disk would explain. The last
// cluster of the file stands in for the last one in use.
bool looks_preallocated(const Layer& layer) {
  struct stat st;
  if (fstat(layer.host_fd, &st) != 0) return false;
  const uint64_t cs = layer.qcow2->info().cluster_size;
  const uint64_t real = static_cast<uint64_t>(st.st_blocks) * 512 / cs;
  const uint64_t last = (static_cast<uint64_t>(st.st_size) + cs - 1) / cs - 1;
  return st.st_size > 0 && last > std::max(real * 10 / 9, real + 2);
}

}  // namespace

Result<Chain> open_chain(const std::string& path, const std::string& format, bool writable) {
  ImageSpec spec;
  spec.name = spec.path = path;
  spec.format = format;
  return open_chain(spec, writable);
}

Result<Chain> open_chain(const ImageSpec& top, bool writable) {
  Chain chain;
  const std::string& path = top.path;
  std::string next_path = path, next_format = top.format;
  while (!next_path.empty()) {
    if (chain.size() > block::qcow2::kMaxBackingChainDepth) {
      return Error(path + ": backing chain is too deep");
    }
    OpenedImage opened;
    if (chain.empty()) {
      TRY_ASSIGN(opened, open_image(top, writable));
    } else {
      TRY_ASSIGN(opened, open_image(next_path, next_format, false));
    }
    auto layer = std::make_unique<Layer>();
    layer->path = next_path;
    layer->qcow2 = opened.qcow2;
    layer->backend = std::move(opened.backend);
    next_path.clear();
    if (layer->qcow2 != nullptr && !(chain.empty() && top.no_backing)) {
      const auto& info = layer->qcow2->info();
      if (!info.backing_file.empty()) {
        next_path = resolve_backing_path(layer->path, info.backing_file);
        next_format = info.backing_format;
      }
    }
    layer->host_fd = ::open(layer->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (layer->host_fd < 0) return Error(layer->path + ": " + std::strerror(errno));
    if (layer->qcow2 != nullptr) layer->preallocated = looks_preallocated(*layer);
    chain.push_back(std::move(layer));
  }
  return chain;
}

namespace {

// How far from `offset` (at most `length` bytes) the host file holds data,
// or a hole (`hole` set): what SEEK_DATA and SEEK_HOLE say.
uint64_t host_run(int fd, uint64_t offset, uint64_t length, bool& hole) {
  const uint64_t end = offset + length;
  off_t data = lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  hole = data < 0 || static_cast<uint64_t>(data) > offset;  // ENXIO: a hole up to the end
  if (hole) return std::min(end, data < 0 ? end : static_cast<uint64_t>(data)) - offset;
  off_t next_hole = lseek(fd, static_cast<off_t>(offset), SEEK_HOLE);
  return std::min(end, next_hole < 0 ? end : static_cast<uint64_t>(next_hole)) - offset;
}

// The extent of a raw file at `start` (at most `length` bytes): data or hole.
Extent raw_extent(const Layer& layer, unsigned depth, uint64_t start, uint64_t length) {
  bool hole = false;
  length = host_run(layer.host_fd, start, length, hole);
  return Extent{start, length, depth, true, hole, !hole, true, start, layer.path};
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
    case Allocation::kData: {
      // A preallocated cluster whose host range is a hole reads as zeros
      // (qemu-img map asks the host file of such images too).
      const uint64_t host = where.host_offset + start % cluster;
      bool hole = false;
      if (layer.preallocated && layer.qcow2->data_path() == layer.path) {
        length = host_run(layer.host_fd, host, length, hole);
      }
      return Extent{start, length, depth, true, hole, true, true, host, layer.qcow2->data_path()};
    }
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

}  // namespace vessel::storage

#include "storage/image_open.h"

#include <sys/stat.h>

#include <cstring>
#include <utility>

#include "block/raw_file.h"

namespace vessel::storage {

Result<block::ImageFormat> parse_format_option(std::string_view name) {
  if (name == "raw") return block::ImageFormat::kRaw;
  if (name == "qcow2") return block::ImageFormat::kQcow2;
  return Error("Unknown file format '" + std::string(name) + "' (supported: raw, qcow2)");
}

Result<CacheMode> parse_cache_mode(std::string_view mode) {
  using block::HostCache;
  // qemu's block.c, bdrv_parse_cache_mode(): "off"/"none" set BDRV_O_NOCACHE
  // (O_DIRECT) with a writeback cache, "directsync" O_DIRECT without one, and
  // "unsafe" adds BDRV_O_NO_FLUSH. Without a writeback cache qemu flushes
  // after every write; O_DSYNC makes each write durable in the same way.
  static constexpr struct {
    std::string_view name;
    CacheMode mode;
  } kModes[] = {
      {"none", {HostCache::kDirect, true}},
      {"off", {HostCache::kDirect, true}},
      {"directsync", {HostCache::kDirectSync, true}},
      {"writeback", {HostCache::kWriteback, true}},
      {"writethrough", {HostCache::kWritethrough, true}},
      {"unsafe", {HostCache::kWriteback, false}},
  };
  for (const auto& m : kModes) {
    if (m.name == mode) return m.mode;
  }
  return Error("invalid cache mode '" + std::string(mode) +
               "' (none, writeback, writethrough, directsync or unsafe)");
}

Result<block::ImageFormat> probe_format(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Error(path + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return Error(path + ": is a directory");
  return block::probe_image_format(path);
}

block::Qcow2OpenOptions qcow2_open_options(bool writable, const CacheMode& cache,
                                           const SnapshotRef& snapshot) {
  block::Qcow2OpenOptions options;
  options.access = writable ? block::Access::kReadWrite : block::Access::kReadOnly;
  options.sync = cache.flush;
  options.host_cache = cache.host_cache;
  options.snapshot_id = snapshot.id;
  options.snapshot_name = snapshot.name;
  return options;
}

Result<OpenedImage> open_image(const std::string& path, const std::string& format, bool writable,
                               CacheMode cache, const SnapshotRef& snapshot) {
  OpenedImage image;
  if (!format.empty()) {
    TRY_ASSIGN(image.format, parse_format_option(format));
  } else {
    TRY_ASSIGN(image.format, probe_format(path));
  }
  if (image.format == block::ImageFormat::kQcow2) {
    TRY_ASSIGN(auto q,
               block::Qcow2Image::open(path, qcow2_open_options(writable, cache, snapshot)));
    image.qcow2 = q.get();
    image.backend = std::move(q);
  } else {
    if (!snapshot.empty()) {
      return Error(path +
                   ": Failed to load snapshot: the raw format has no internal snapshots to load");
    }
    TRY_ASSIGN(auto raw, block::RawFile::open(path, !writable, cache.host_cache));
    raw->set_sync_enabled(cache.flush);
    image.backend = std::move(raw);
  }
  return image;
}

}  // namespace vessel::storage

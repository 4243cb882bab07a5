// Opening one image file as raw or qcow2: the format named or probed, the
// host cache mode, an internal snapshot to read instead of the active disk.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "block/block_backend.h"
#include "block/image_format.h"
#include "block/qcow2.h"
#include "storage/callbacks.h"

namespace vessel::storage {

// qemu-img's "-t"/"-T" cache modes, as qemu's bdrv_parse_cache_mode() reads
// them: how the image file meets the host page cache, and whether flushes
// reach the disk.
struct CacheMode {
  block::HostCache host_cache = block::HostCache::kWriteback;
  bool flush = true;  // false for "unsafe": never fdatasync
};
// none (or off), directsync, writeback, writethrough, unsafe.
Result<CacheMode> parse_cache_mode(std::string_view mode);

struct OpenedImage {
  block::ImageFormat format = block::ImageFormat::kRaw;
  std::unique_ptr<block::BlockBackend> backend;
  block::Qcow2Image* qcow2 = nullptr;  // backend as qcow2, or nullptr for raw
};

// An internal snapshot to read instead of the active disk (convert -l): the
// one whose ID and name match those given; an empty one matches any.
struct SnapshotRef {
  std::string id;
  std::string name;
  bool empty() const { return id.empty() && name.empty(); }
};

// "raw" or "qcow2" (qemu-img's -f values), with an error in qemu-img's words.
Result<block::ImageFormat> parse_format_option(std::string_view name);

// The format of `path` as its content shows it (qcow2 magic, else raw),
// without opening it as that format. Errors name the file.
Result<block::ImageFormat> probe_format(const std::string& path);

// How open_image() opens a qcow2 image with these settings.
block::Qcow2OpenOptions qcow2_open_options(bool writable, const CacheMode& cache,
                                           const SnapshotRef& snapshot);

// Opens `path` as `format`, or probes it when `format` is empty. Errors name
// the file. `cache`: qemu-img's default, writeback, unless given.
Result<OpenedImage> open_image(const std::string& path, const std::string& format, bool writable,
                               CacheMode cache = {}, const SnapshotRef& snapshot = {});

// A backing file name as qcow2 stores it, made usable from here.
using block::resolve_backing_path;

}  // namespace vessel::storage

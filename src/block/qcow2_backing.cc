// Opening the backing chain of a qcow2 image: every backing file read-only,
// its format from the backing-format header extension or else probed, the
// chain bounded in depth and checked for loops (a file met twice, the image
// itself included).
#include <algorithm>

#include "block/image_format.h"
#include "block/qcow2.h"
#include "block/raw_file.h"

namespace vessel::block {

Result<void> Qcow2Image::open_backing(const ChainState& chain) {
  if (header_.backing_file.empty() || options_.backing == Qcow2BackingPolicy::kIgnore) return Ok();
  const std::string& path = file_->path();
  const std::string& name = header_.backing_file;
  if (options_.backing == Qcow2BackingPolicy::kRefuse) {
    return Error(path + ": the image has a backing file (\"" + name +
                 "\"), which is not allowed here");
  }
  if (chain.depth + 1 > qcow2::kMaxBackingChainDepth) {
    return Error(path + ": the backing chain is deeper than " +
                 std::to_string(qcow2::kMaxBackingChainDepth) + " images");
  }
  std::string backing_path = resolve_backing_path(path, name);
  auto probe = HostFile::open(backing_path, Access::kReadOnly);
  if (!probe.ok()) {
    return Error(path + ": cannot open backing file \"" + name + "\": " + probe.error().message());
  }
  FileIdentity id = (*probe)->identity();
  if (id == file_->identity()) {
    return Error(path + ": the backing file \"" + name + "\" is the image itself");
  }
  if (std::find(chain.above.begin(), chain.above.end(), id) != chain.above.end()) {
    return Error(path + ": the backing file \"" + name + "\" makes the backing chain a loop");
  }
  probe->reset();

  ImageFormat format;
  if (!header_.backing_format.empty()) {
    auto parsed = parse_image_format(header_.backing_format);
    if (!parsed.ok()) {
      return Error(path + ": backing file \"" + name + "\": " + parsed.error().message());
    }
    format = *parsed;
  } else {
    TRY_ASSIGN(format, probe_image_format(backing_path));
  }

  if (format == ImageFormat::kRaw) {
    auto raw = RawFile::open(backing_path, true, options_.host_cache);
    if (!raw.ok()) return Error(path + ": backing file: " + raw.error().message());
    backing_ = std::move(raw).value();
  } else {
    ChainState next{chain.depth + 1, chain.above};
    next.above.push_back(file_->identity());
    OpenOptions options;
    options.access = Access::kReadOnly;
    options.l2_cache_bytes = options_.l2_cache_bytes;
    options.host_cache = options_.host_cache;
    auto opened = open_in_chain(backing_path, options, std::move(next));
    if (!opened.ok()) {
      // Errors name the backing file where the problem is; the top of the
      // chain adds the image that was asked for.
      if (chain.depth > 0) return opened.error();
      return Error(path + ": in its backing chain: " + opened.error().message());
    }
    backing_ = std::move(opened).value();
  }
  backing_size_ = backing_->size();
  return Ok();
}

}  // namespace vessel::block

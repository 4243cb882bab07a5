// A backing chain opened layer by layer, and qemu's block-status model of
// it: for any guest offset, the extent that starts there, which layer holds
// it, whether it is data or reads as zeros. Shared by map, measure, commit
// and rebase.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "storage/image_open.h"
#include "storage/image_spec.h"

namespace vessel::storage {

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
  int host_fd = -1;                    // the file itself: for SEEK_DATA / SEEK_HOLE
  // A qcow2 file that looks preallocated (preallocation=metadata): its data
  // clusters may be holes, so the host file is asked, as QEMU does then.
  bool preallocated = false;
  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  ~Layer();
};

using Chain = std::vector<std::unique_ptr<Layer>>;

// Opens `path` (as `format`, probed when empty) and every backing file below
// it, read-only; with `writable` the top image is opened read-write.
Result<Chain> open_chain(const std::string& path, const std::string& format, bool writable = false);
// The same for an image named in any of qemu-img's spellings (its runtime
// options apply to the top image; "backing": null ends the chain there).
Result<Chain> open_chain(const ImageSpec& top, bool writable = false);

// The extent at `start` (at most `length` bytes, never crossing a cluster of
// a qcow2 layer, or a run of subclusters stored alike) as seen from layer
// `depth` of the chain.
Result<Extent> extent_at(const Chain& chain, unsigned depth, uint64_t start, uint64_t length);

}  // namespace vessel::storage

// Committing an overlay into its backing file, as qemu-img commit does: what
// the top image (and any image between it and the base) holds is written
// into the base image, which grows to the top's size when smaller; then,
// unless asked to keep it, the top image is emptied so it reads through to
// its backing file again. Images between the top and a deeper base are left
// as they are (qemu-img documents them as invalid afterwards).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "storage/callbacks.h"
#include "storage/image_spec.h"

namespace vessel::storage {

// What becomes of the top image once its data is in the base.
enum class CommitTop : uint8_t {
  kEmpty,  // emptied: it reads through to its backing file again
  kKeep,   // left as it is (qemu-img commit -d, or -b)
};

struct CommitRequest {
  ImageSpec top;
  // The base: a backing file name as stored in the layer above it, or a
  // path to the same file (from here, or relative to the top image). None:
  // the top's own backing file.
  std::optional<std::string> base;
  CommitTop top_after = CommitTop::kEmpty;
};

// `progress` hears of the guest bytes gone through, of the top's size.
Result<void> commit_image(const CommitRequest& request, const ProgressFn& progress = nullptr);

}  // namespace vessel::storage

// Making a new raw or qcow2 image, as qemu-img create does: the size from
// the request or the backing file, qemu-img's checks and rounding, then the
// file. In two steps, so that a caller can say what it is about to make
// (qemu-img's "Formatting ..." line) before the file exists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "block/image_format.h"
#include "storage/create_options.h"
#include "storage/image_open.h"

namespace vessel::storage {

// Whether the backing file is opened when the image is made (qemu-img
// create -u: it need not exist yet, and the size must then be given).
enum class BackingCheck : uint8_t { kOpen, kUnchecked };

struct CreateRequest {
  std::string path;
  block::ImageFormat format = block::ImageFormat::kRaw;
  ImgCreateOptions options;  // "-o"; its size, backing_file and backing_fmt win
  std::optional<uint64_t> size;
  std::string backing_file;    // qcow2 only; relative to the new image
  std::string backing_format;  // "raw" or "qcow2"; empty: probed
  BackingCheck backing_check = BackingCheck::kOpen;
};

// A request checked and settled: the size known and rounded, the backing
// file's format known.
struct CreatePlan {
  std::string path;
  block::ImageFormat format = block::ImageFormat::kRaw;
  ImgCreateOptions options;  // for qcow2, options.qcow2 is complete
  uint64_t size = 0;
  // qemu-img's "Formatting 'PATH', fmt=..." line, without the newline.
  std::string formatting_line() const;
};

// Checks `request` as qemu-img create does; errors in its words.
Result<CreatePlan> plan_create(CreateRequest request);

// Makes the image (replacing any file at its path). `warn` hears of an
// extent size hint that was asked for and could not be set.
Result<void> create_image(const CreatePlan& plan, const Warn& warn = nullptr);

}  // namespace vessel::storage

// The copy engine of qemu-img convert: the guest data of a source image
// (with its backing chain) into a target image, leaving zero runs unwritten
// where the target already reads as zeros (sparse), optionally compressing
// qcow2 clusters, and with a base image (-B) storing only what differs from
// it. Steps of 1 MiB (or a cluster) are copied by several threads.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "block/block_backend.h"
#include "storage/callbacks.h"
#include "storage/image_open.h"

namespace vessel::storage {

enum class Compression : uint8_t { kNone, kCompressed };

// Whether the target was made for this copy (it reads as zeros, and needs
// no zero writes) or already held data (qemu-img convert -n).
enum class TargetState : uint8_t { kFresh, kExisting };

struct ConvertCopy {
  block::BlockBackend& source;
  OpenedImage& target;  // open read-write; qcow2 for kCompressed
  // The target's backing file (-B), read to compare with; null: none.
  block::BlockBackend* base = nullptr;
  uint64_t size = 0;         // guest bytes to copy (the source's size)
  uint32_t cluster = 65536;  // the target's cluster size (65536 for raw)
  uint64_t sparse = 4096;    // -S: zero runs this long are not written; 0: write every byte
  Compression compress = Compression::kNone;
  TargetState target_state = TargetState::kFresh;
};

// Copies; `progress` hears of the guest bytes copied, starting at 0. The
// target is neither flushed nor closed.
Result<void> convert_copy(const ConvertCopy& copy, const ProgressFn& progress = nullptr);

}  // namespace vessel::storage

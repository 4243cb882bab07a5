#include "block/block_backend.h"

#include <algorithm>
#include <vector>

namespace vessel::block {

Result<void> BlockBackend::write_zeroes(uint64_t offset, uint64_t length, ZeroMode /*mode*/) {
  constexpr uint64_t kChunk = 1 << 20;
  const std::vector<uint8_t> zeros(std::min(length, kChunk), 0);
  for (uint64_t done = 0; done < length;) {
    uint64_t n = std::min<uint64_t>(length - done, zeros.size());
    TRY(write(offset + done, std::span<const uint8_t>(zeros.data(), n)));
    done += n;
  }
  return Ok();
}

Result<void> BlockBackend::discard(uint64_t offset, uint64_t length) {
  if (read_only()) return Error("the image is read-only");
  if (offset > size() || length > size() - offset)
    return Error("discard beyond the end of the image");
  return Ok();
}

}  // namespace vessel::block

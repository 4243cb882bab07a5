#include "devices/virtio/rng.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vessel::devices::virtio {
namespace {

constexpr uint32_t kStateVersion = 1;

Result<void> fill_random(uint8_t* out, uint64_t len) {
  while (len > 0) {
    ssize_t n = getrandom(out, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(std::string("getrandom: ") + strerror(errno));
    }
    out += n;
    len -= static_cast<uint64_t>(n);
  }
  return Ok();
}

}  // namespace

// §5.4.6: each buffer is device-writable; the device fills as much as it likes.
Result<void> VirtioRng::process_queue(unsigned /*index*/, SplitQueue& queue,
                                      memory::AddressSpace& ram) {
  for (;;) {
    TRY_ASSIGN(std::optional<DescriptorChain> chain, queue.pop());
    if (!chain) return Ok();
    uint32_t len = std::min(chain->writable_len(), kMaxBytesPerBuffer);
    Result<void> filled = chain->for_each_writable(ram, 0, len, fill_random);
    if (!filled.ok()) {
      host_errors_.warn("virtio-rng: %s", filled.error().message().c_str());
      len = 0;
    }
    TRY(queue.push(chain->head(), len));
  }
}

void VirtioRng::save(StateWriter& out) const {
  out.begin_section("virtio-rng", kStateVersion);
  out.end_section();
}

Result<void> VirtioRng::load(StateReader& in) {
  TRY(in.begin_section("virtio-rng", kStateVersion));
  return in.end_section();
}

}  // namespace vessel::devices::virtio

// Split virtqueue, device side (virtio 1.2 §2.7).
//
// Everything the guest controls is copied out of guest memory and validated
// here, in one place, before a device sees it: ring indices (§2.7.6, §2.7.8),
// and each descriptor chain (§2.7.5) — at least one descriptor, indirect
// tables (§2.7.5.3) only when negotiated and never nested, device-readable
// buffers never after device-writable ones (§2.7.4.2), each buffer wholly
// inside guest RAM, totals overflow-checked, and a hop budget equal to the
// queue size so that a looping chain ends in an error, not a hang. Devices
// then work on the DescriptorChain copy; a failure is an Error for the
// transport to turn into DEVICE_NEEDS_RESET.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "memory/address_space.h"

namespace vessel::devices::virtio {

static_assert(std::endian::native == std::endian::little,
              "virtio 1.x rings are little-endian; big-endian hosts need byte swaps");

// virtio 1.2 §2.7.5: The Virtqueue Descriptor Table.
struct Descriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;

// One buffer of a validated chain; [addr, addr + len) lies inside guest RAM.
struct Buffer {
  uint64_t addr;
  uint32_t len;
};

class DescriptorChain {
 public:
  uint16_t head() const { return head_; }
  // Total bytes the device may read / write. Each fits in 32 bits, the width
  // of the used ring's length field.
  uint32_t readable_len() const { return readable_len_; }
  uint32_t writable_len() const { return writable_len_; }
  std::span<const Buffer> readable() const { return std::span(buffers_).first(first_writable_); }
  std::span<const Buffer> writable() const { return std::span(buffers_).subspan(first_writable_); }

  // Copies readable bytes [offset, offset + out.size()) out of guest memory.
  Result<void> read(const memory::AddressSpace& ram, uint64_t offset, std::span<uint8_t> out) const;
  // Copies `data` into writable bytes [offset, offset + data.size()).
  Result<void> write(memory::AddressSpace& ram, uint64_t offset,
                     std::span<const uint8_t> data) const;

  // Calls fn(uint8_t* host, uint64_t len) -> Result<void> on the host memory
  // behind readable bytes [offset, offset + len), piece by piece, for
  // zero-copy I/O. Stops at the first error.
  template <typename Fn>
  Result<void> for_each_readable(const memory::AddressSpace& ram, uint64_t offset, uint64_t len,
                                 Fn&& fn) const {
    return visit(readable(), ram, offset, len, fn, nullptr);
  }
  // The same over writable bytes; each piece is marked in the dirty log.
  template <typename Fn>
  Result<void> for_each_writable(memory::AddressSpace& ram, uint64_t offset, uint64_t len,
                                 Fn&& fn) const {
    return visit(writable(), ram, offset, len, fn, &ram);
  }

 private:
  friend class SplitQueue;

  template <typename Fn>
  static Result<void> visit(std::span<const Buffer> buffers, const memory::AddressSpace& ram,
                            uint64_t offset, uint64_t len, Fn& fn, memory::AddressSpace* dirty) {
    for (const Buffer& b : buffers) {
      if (len == 0) break;
      if (offset >= b.len) {
        offset -= b.len;
        continue;
      }
      uint64_t n = std::min<uint64_t>(b.len - offset, len);
      uint8_t* host = ram.ram_ptr(b.addr + offset, n);
      if (!host) return Error("virtqueue buffer outside guest RAM");  // validated at pop
      Result<void> r = fn(host, n);
      if (dirty) dirty->mark_dirty(b.addr + offset, n);
      if (!r.ok()) return r;
      offset = 0;
      len -= n;
    }
    if (len != 0) return Error("access beyond the end of the descriptor chain");
    return Ok();
  }

  uint16_t head_ = 0;
  std::vector<Buffer> buffers_;  // readable ones first, then writable ones
  size_t first_writable_ = 0;
  uint32_t readable_len_ = 0;
  uint32_t writable_len_ = 0;
};

class SplitQueue {
 public:
  static constexpr uint16_t kMaxSize = 32768;  // virtio 1.2 §2.7

  SplitQueue(memory::AddressSpace& ram, uint16_t max_size);

  // Driver-written configuration (the transport's queue registers).
  uint16_t max_size() const { return max_size_; }
  uint32_t size() const { return size_; }
  bool ready() const { return ready_; }
  uint64_t desc_addr() const { return desc_addr_; }
  uint64_t driver_addr() const { return driver_addr_; }
  uint64_t device_addr() const { return device_addr_; }
  void set_size(uint32_t size) { size_ = size; }
  void set_desc_addr(uint64_t a) { desc_addr_ = a; }
  void set_driver_addr(uint64_t a) { driver_addr_ = a; }
  void set_device_addr(uint64_t a) { device_addr_ = a; }

  // Checks size and ring placement (§2.7: alignment, and every ring inside
  // guest RAM), then starts the queue. On error the queue stays stopped.
  Result<void> enable(bool indirect_negotiated);
  void disable() { ready_ = false; }
  // Back to the state after device reset.
  void reset();

  // The next available chain, validated, or nullopt when the driver has made
  // nothing new available. An Error means the driver broke the protocol.
  Result<std::optional<DescriptorChain>> pop();
  // Gives back the last `count` chains pop() returned, unused: the next
  // pop() returns them again (virtio 1.2 §2.7.13: the device consumes
  // available entries only by using them).
  void unpop(uint16_t count) { last_avail_ = static_cast<uint16_t>(last_avail_ - count); }
  // Returns a chain to the driver with `written` bytes written into it.
  Result<void> push(uint16_t head, uint32_t written);
  // Returns several chains at once: the driver sees all of them or none
  // (a merged receive buffer must arrive whole).
  struct Used {
    uint16_t head;
    uint32_t written;
  };
  Result<void> push_all(std::span<const Used> used);
  // True once after push()es, unless the driver suppressed interrupts
  // (VIRTQ_AVAIL_F_NO_INTERRUPT, §2.7.7).
  bool take_notification();

  // Device-side ring positions, for save/restore.
  uint16_t last_avail() const { return last_avail_; }
  uint16_t next_used() const { return next_used_; }
  // Sets every field at once, re-checking the layout of a ready queue.
  Result<void> restore(uint32_t size, bool ready, bool indirect, uint64_t desc, uint64_t driver,
                       uint64_t device, uint16_t last_avail, uint16_t next_used);
  bool indirect() const { return indirect_; }

 private:
  Result<void> check_layout() const;
  Result<Descriptor> read_descriptor(uint64_t table, uint32_t index) const;
  Result<DescriptorChain> walk_chain(uint16_t head) const;

  memory::AddressSpace& ram_;
  uint16_t max_size_;
  uint32_t size_;
  bool ready_ = false;
  bool indirect_ = false;
  uint64_t desc_addr_ = 0;
  uint64_t driver_addr_ = 0;
  uint64_t device_addr_ = 0;
  uint16_t last_avail_ = 0;  // next available-ring slot to consume
  uint16_t next_used_ = 0;   // next used-ring slot to fill
  bool pushed_ = false;
};

}  // namespace vessel::devices::virtio

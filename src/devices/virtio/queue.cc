#include "devices/virtio/queue.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace vessel::devices::virtio {
namespace {

// virtio 1.2 §2.7.6 / §2.7.8: ring layouts. Both rings start with a 16-bit
// flags word and a 16-bit index; entries follow.
constexpr uint64_t kRingIdxOffset = 2;
constexpr uint64_t kRingEntriesOffset = 4;
constexpr uint64_t kAvailEntrySize = 2;
constexpr uint64_t kUsedEntrySize = 8;
constexpr uint16_t kAvailFlagNoInterrupt = 1;

// §2.7: alignment of the descriptor table, available ring and used ring.
constexpr uint64_t kDescAlign = 16;
constexpr uint64_t kAvailAlign = 2;
constexpr uint64_t kUsedAlign = 4;

Error guest_error(const char* format, ...) __attribute__((format(printf, 1, 2)));
Error guest_error(const char* format, ...) {
  char text[256];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  return Error(text);
}

unsigned long long ull(uint64_t v) {
  return v;
}

}  // namespace

Result<void> DescriptorChain::read(const memory::AddressSpace& ram, uint64_t offset,
                                   std::span<uint8_t> out) const {
  uint8_t* dst = out.data();
  return for_each_readable(ram, offset, out.size(), [&](uint8_t* host, uint64_t n) -> Result<void> {
    std::memcpy(dst, host, n);
    dst += n;
    return Ok();
  });
}

Result<void> DescriptorChain::write(memory::AddressSpace& ram, uint64_t offset,
                                    std::span<const uint8_t> data) const {
  const uint8_t* src = data.data();
  return for_each_writable(ram, offset, data.size(),
                           [&](uint8_t* host, uint64_t n) -> Result<void> {
                             std::memcpy(host, src, n);
                             src += n;
                             return Ok();
                           });
}

SplitQueue::SplitQueue(memory::AddressSpace& ram, uint16_t max_size)
    : ram_(ram), max_size_(max_size), size_(max_size) {}

void SplitQueue::reset() {
  size_ = max_size_;
  ready_ = false;
  indirect_ = false;
  desc_addr_ = driver_addr_ = device_addr_ = 0;
  last_avail_ = next_used_ = 0;
  pushed_ = false;
}

Result<void> SplitQueue::check_layout() const {
  // §2.7: Queue Size is a power of 2, at most what the device offers.
  if (size_ == 0 || size_ > max_size_ || !std::has_single_bit(size_)) {
    return guest_error("queue size %u is not a power of 2 in [1, %u]", size_, max_size_);
  }
  if (desc_addr_ % kDescAlign || driver_addr_ % kAvailAlign || device_addr_ % kUsedAlign) {
    return guest_error("misaligned rings (descriptors 0x%llx, driver 0x%llx, device 0x%llx)",
                       ull(desc_addr_), ull(driver_addr_), ull(device_addr_));
  }
  if (!ram_.ram_ptr(desc_addr_, sizeof(Descriptor) * uint64_t{size_})) {
    return guest_error("descriptor table at 0x%llx is not in guest RAM", ull(desc_addr_));
  }
  if (!ram_.ram_ptr(driver_addr_, kRingEntriesOffset + kAvailEntrySize * size_)) {
    return guest_error("available ring at 0x%llx is not in guest RAM", ull(driver_addr_));
  }
  if (!ram_.ram_ptr(device_addr_, kRingEntriesOffset + kUsedEntrySize * size_)) {
    return guest_error("used ring at 0x%llx is not in guest RAM", ull(device_addr_));
  }
  return Ok();
}

Result<void> SplitQueue::enable(bool indirect_negotiated) {
  TRY(check_layout());
  indirect_ = indirect_negotiated;
  last_avail_ = next_used_ = 0;  // a freshly enabled ring starts at index 0
  pushed_ = false;
  ready_ = true;
  return Ok();
}

Result<void> SplitQueue::restore(uint32_t size, bool ready, bool indirect, uint64_t desc,
                                 uint64_t driver, uint64_t device, uint16_t last_avail,
                                 uint16_t next_used) {
  size_ = size;
  indirect_ = indirect;
  desc_addr_ = desc;
  driver_addr_ = driver;
  device_addr_ = device;
  last_avail_ = last_avail;
  next_used_ = next_used;
  pushed_ = false;
  ready_ = false;
  if (ready) {
    TRY(check_layout());
    ready_ = true;
  }
  return Ok();
}

Result<Descriptor> SplitQueue::read_descriptor(uint64_t table, uint32_t index) const {
  Descriptor d;
  if (!ram_.read_bytes(table + sizeof(Descriptor) * uint64_t{index}, &d, sizeof d)) {
    return guest_error("descriptor %u of the table at 0x%llx is not in guest RAM", index,
                       ull(table));
  }
  return d;
}

// §2.7.5 and §2.7.5.3: follow one chain, validating every descriptor.
Result<DescriptorChain> SplitQueue::walk_chain(uint16_t head) const {
  DescriptorChain chain;
  chain.head_ = head;
  uint64_t table = desc_addr_;
  uint32_t table_size = size_;
  uint32_t index = head;
  bool in_indirect = false;
  bool seen_writable = false;
  uint64_t readable = 0;
  uint64_t writable = 0;
  // §2.7.5.3.1: no chain is longer than the queue size, so with this budget a
  // chain whose `next` links form a loop ends in an error.
  uint32_t budget = size_;

  for (;;) {
    if (budget == 0) {
      return guest_error("descriptor chain from head %u is longer than the queue size %u", head,
                         size_);
    }
    --budget;
    TRY_ASSIGN(Descriptor d, read_descriptor(table, index));

    if (d.flags & kDescFlagIndirect) {
      if (!indirect_) return guest_error("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
      if (in_indirect) return guest_error("indirect descriptor inside an indirect table");
      if (d.flags & kDescFlagNext) return guest_error("indirect descriptor with NEXT set");
      if (d.len == 0 || d.len % sizeof(Descriptor) != 0) {
        return guest_error("indirect table length %u is not a non-zero multiple of 16", d.len);
      }
      if (!ram_.ram_ptr(d.addr, d.len)) {
        return guest_error("indirect table [0x%llx, +%u) is not in guest RAM", ull(d.addr), d.len);
      }
      table = d.addr;
      table_size = d.len / sizeof(Descriptor);
      index = 0;
      in_indirect = true;
      ++budget;  // the pointer is no buffer: a full-size indirect chain still fits
      continue;
    }

    if (d.len != 0 && !ram_.ram_ptr(d.addr, d.len)) {
      return guest_error("buffer [0x%llx, +%u) is not in guest RAM", ull(d.addr), d.len);
    }
    if (d.flags & kDescFlagWrite) {
      seen_writable = true;
      writable += d.len;
    } else {
      // §2.7.4.2: device-readable buffers come before device-writable ones.
      if (seen_writable) return guest_error("device-readable buffer after a device-writable one");
      readable += d.len;
    }
    if (readable > UINT32_MAX || writable > UINT32_MAX) {
      return guest_error("descriptor chain from head %u holds more than 4 GiB", head);
    }
    if (d.len != 0) chain.buffers_.push_back({d.addr, d.len});
    if (!seen_writable) chain.first_writable_ = chain.buffers_.size();

    if (!(d.flags & kDescFlagNext)) break;
    if (d.next >= table_size) {
      return guest_error("descriptor next index %u beyond a table of %u", d.next, table_size);
    }
    index = d.next;
  }
  chain.readable_len_ = static_cast<uint32_t>(readable);
  chain.writable_len_ = static_cast<uint32_t>(writable);
  return chain;
}

Result<std::optional<DescriptorChain>> SplitQueue::pop() {
  if (!ready_) return std::optional<DescriptorChain>();
  // check_layout() placed the ring in RAM with 2-byte alignment.
  uint8_t* idx_ptr = ram_.ram_ptr(driver_addr_ + kRingIdxOffset, 2);
  if (!idx_ptr) return guest_error("available ring is not in guest RAM");
  // §2.7.13.3 (driver side): the driver writes the ring entry, then the
  // index; the acquire load pairs with its barrier.
  uint16_t avail_idx = std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(idx_ptr))
                           .load(std::memory_order_acquire);
  auto waiting = static_cast<uint16_t>(avail_idx - last_avail_);
  if (waiting == 0) return std::optional<DescriptorChain>();
  if (waiting > size_) {
    return guest_error("available index %u is %u entries ahead of the device, queue size %u",
                       avail_idx, waiting, size_);
  }

  uint16_t head;
  uint64_t slot = last_avail_ % size_;
  if (!ram_.read_bytes(driver_addr_ + kRingEntriesOffset + kAvailEntrySize * slot, &head,
                       sizeof head)) {
    return guest_error("available ring is not in guest RAM");
  }
  if (head >= size_)
    return guest_error("available ring entry %u beyond queue size %u", head, size_);

  TRY_ASSIGN(DescriptorChain chain, walk_chain(head));
  ++last_avail_;
  return std::optional<DescriptorChain>(std::move(chain));
}

Result<void> SplitQueue::push(uint16_t head, uint32_t written) {
  const Used used{head, written};
  return push_all(std::span(&used, 1));
}

Result<void> SplitQueue::push_all(std::span<const Used> used) {
  if (!ready_) return guest_error("used buffer on a stopped queue");
  uint16_t next = next_used_;
  for (const Used& u : used) {
    // §2.7.8: struct virtq_used_elem { le32 id; le32 len; }.
    uint32_t elem[2] = {u.head, u.written};
    uint64_t slot = next % size_;
    if (!ram_.write_bytes(device_addr_ + kRingEntriesOffset + kUsedEntrySize * slot, elem,
                          sizeof elem)) {
      return guest_error("used ring is not in guest RAM");
    }
    ++next;
  }
  uint8_t* idx_ptr = ram_.ram_ptr(device_addr_ + kRingIdxOffset, 2);
  if (!idx_ptr) return guest_error("used ring is not in guest RAM");
  next_used_ = next;
  // §2.7.8.2: the elements are visible before the index that publishes them.
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(idx_ptr))
      .store(next_used_, std::memory_order_release);
  ram_.mark_dirty(device_addr_ + kRingIdxOffset, 2);
  pushed_ = true;
  return Ok();
}

bool SplitQueue::take_notification() {
  if (!pushed_) return false;
  pushed_ = false;
  // Order the used-index store before reading the driver's suppression flag,
  // or a driver that just cleared it could miss its interrupt.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint16_t flags;
  if (!ram_.read_bytes(driver_addr_, &flags, sizeof flags)) return true;
  return !(flags & kAvailFlagNoInterrupt);
}

}  // namespace vessel::devices::virtio

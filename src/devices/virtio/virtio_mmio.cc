#include "devices/virtio/virtio_mmio.h"

#include <utility>

namespace vessel::devices::virtio {
namespace {

// virtio 1.2 §4.2.2: MMIO device register layout.
enum Reg : uint64_t {
  kMagicValue = 0x000,
  kVersionReg = 0x004,
  kDeviceIdReg = 0x008,
  kVendorIdReg = 0x00c,
  kDeviceFeatures = 0x010,
  kDeviceFeaturesSel = 0x014,
  kDriverFeatures = 0x020,
  kDriverFeaturesSel = 0x024,
  kQueueSel = 0x030,
  kQueueNumMax = 0x034,
  kQueueNum = 0x038,
  kQueueReady = 0x044,
  kQueueNotify = 0x050,
  kInterruptStatus = 0x060,
  kInterruptAck = 0x064,
  kStatus = 0x070,
  kQueueDescLow = 0x080,
  kQueueDescHigh = 0x084,
  kQueueDriverLow = 0x090,
  kQueueDriverHigh = 0x094,
  kQueueDeviceLow = 0x0a0,
  kQueueDeviceHigh = 0x0a4,
  kShmSel = 0x0ac,
  kShmLenLow = 0x0b0,
  kShmLenHigh = 0x0b4,
  kShmBaseLow = 0x0b8,
  kShmBaseHigh = 0x0bc,
  kConfigGeneration = 0x0fc,
  kConfig = 0x100,
};

// §4.2.2: InterruptStatus bits.
constexpr uint32_t kInterruptUsedBuffer = 1;
constexpr uint32_t kInterruptConfigChange = 2;

constexpr uint32_t kStatusMask = 0xff;
constexpr uint32_t kStateVersion = 1;

uint64_t with_low(uint64_t v, uint32_t low) {
  return (v & ~uint64_t{0xffffffff}) | low;
}
uint64_t with_high(uint64_t v, uint32_t high) {
  return (v & 0xffffffff) | (uint64_t{high} << 32);
}

}  // namespace

VirtioMmio::VirtioMmio(memory::AddressSpace& ram, IrqLine irq, std::unique_ptr<VirtioDevice> device)
    : ram_(ram), irq_(std::move(irq)), device_(std::move(device)) {
  unsigned n = device_->num_queues();
  queues_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    uint16_t max = std::min(device_->queue_max_size(i), SplitQueue::kMaxSize);
    queues_.emplace_back(ram_, max);
  }
  device_->attach(*this);
}

VirtioMmio::~VirtioMmio() {
  // The device's threads may be inside run_queue(): end them while the
  // transport is whole.
  device_->stop();
}

uint32_t VirtioMmio::device_status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

uint32_t VirtioMmio::interrupt_status() const {
  std::lock_guard lock(mutex_);
  return interrupt_status_;
}

uint64_t VirtioMmio::offered_features() const {
  // EVENT_IDX is not implemented, so never offered whatever the device says.
  return (device_->device_features() & ~feature::kEventIdx) | feature::kVersion1 |
         feature::kIndirectDesc;
}

SplitQueue* VirtioMmio::selected_queue() {
  return queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
}

void VirtioMmio::update_irq() {
  bool level = interrupt_status_ != 0;
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq_) irq_(level);
}

void VirtioMmio::raise_interrupt(uint32_t bits) {
  interrupt_status_ |= bits;
  update_irq();
}

// virtio 1.2 §2.1.2: on an error it cannot recover from, the device sets
// DEVICE_NEEDS_RESET and sends a configuration change notification.
void VirtioMmio::needs_reset(const Error& why) {
  guest_errors_.warn("virtio-mmio (device %u): %s; device needs reset",
                     static_cast<uint32_t>(device_->device_id()), why.message().c_str());
  if (status_ & status::kNeedsReset) return;
  status_ |= status::kNeedsReset;
  raise_interrupt(kInterruptConfigChange);
}

void VirtioMmio::reset_locked() {
  device_->reset();
  for (SplitQueue& q : queues_) q.reset();
  status_ = 0;
  device_features_sel_ = 0;
  driver_features_sel_ = 0;
  driver_features_ = 0;
  queue_sel_ = 0;
  interrupt_status_ = 0;
  update_irq();
}

void VirtioMmio::reset() {
  std::lock_guard lock(mutex_);
  reset_locked();
}

void VirtioMmio::write_status(uint32_t value) {
  value &= kStatusMask;
  // §4.2.2.1: writing zero resets the device.
  if (value == 0) {
    reset_locked();
    return;
  }
  // §3.1.1 steps 5-6: FEATURES_OK sticks only if the device accepts the
  // driver's subset; the driver reads the status back to find out.
  if ((value & status::kFeaturesOk) && !(status_ & status::kFeaturesOk)) {
    bool subset = (driver_features_ & ~offered_features()) == 0;
    bool modern = driver_features_ & feature::kVersion1;
    if (!subset || !modern) {
      guest_errors_.warn("virtio-mmio: driver features 0x%llx rejected (offered 0x%llx)",
                         static_cast<unsigned long long>(driver_features_),
                         static_cast<unsigned long long>(offered_features()));
      value &= ~status::kFeaturesOk;
    }
  }
  if ((value & status::kDriverOk) && !(status_ & status::kDriverOk)) {
    if (!(value & status::kFeaturesOk)) {
      guest_errors_.warn("virtio-mmio: DRIVER_OK without FEATURES_OK ignored");
      value &= ~status::kDriverOk;
    } else {
      device_->activate(driver_features_);
    }
  }
  // DEVICE_NEEDS_RESET is the device's to set and clears only by reset.
  status_ = (value & ~status::kNeedsReset) | (status_ & status::kNeedsReset);
}

void VirtioMmio::notify(uint32_t index) {
  if (!(status_ & status::kDriverOk) || (status_ & status::kNeedsReset)) return;
  if (index >= queues_.size() || !queues_[index].ready()) {
    guest_errors_.warn("virtio-mmio: notification for queue %u, which is not ready", index);
    return;
  }
  SplitQueue& queue = queues_[index];
  finish(queue, device_->process_queue(index, queue, ram_));
}

bool VirtioMmio::run_queue(unsigned index, QueueTask task) {
  std::lock_guard lock(mutex_);
  if (!(status_ & status::kDriverOk) || (status_ & status::kNeedsReset)) return false;
  if (index >= queues_.size() || !queues_[index].ready()) return false;
  SplitQueue& queue = queues_[index];
  finish(queue, task.run(task.context, queue, ram_));
  return true;
}

void VirtioMmio::finish(SplitQueue& queue, const Result<void>& result) {
  // Buffers completed before a failure still belong to the driver.
  if (queue.take_notification()) raise_interrupt(kInterruptUsedBuffer);
  if (!result.ok()) needs_reset(result.error());
}

uint32_t VirtioMmio::read_register(uint64_t offset) {
  SplitQueue* q = selected_queue();
  switch (offset) {
    case kMagicValue:
      return kMagic;
    case kVersionReg:
      return kVersion;
    case kDeviceIdReg:
      return static_cast<uint32_t>(device_->device_id());
    case kVendorIdReg:
      return kVendorId;
    case kDeviceFeatures:
      if (device_features_sel_ > 1) return 0;
      return static_cast<uint32_t>(offered_features() >> (32 * device_features_sel_));
    case kQueueNumMax:
      return q ? q->max_size() : 0;
    case kQueueNum:
      return q ? q->size() : 0;
    case kQueueReady:
      return q && q->ready() ? 1 : 0;
    case kInterruptStatus:
      return interrupt_status_;
    case kStatus:
      return status_;
    case kQueueDescLow:
      return q ? static_cast<uint32_t>(q->desc_addr()) : 0;
    case kQueueDescHigh:
      return q ? static_cast<uint32_t>(q->desc_addr() >> 32) : 0;
    case kQueueDriverLow:
      return q ? static_cast<uint32_t>(q->driver_addr()) : 0;
    case kQueueDriverHigh:
      return q ? static_cast<uint32_t>(q->driver_addr() >> 32) : 0;
    case kQueueDeviceLow:
      return q ? static_cast<uint32_t>(q->device_addr()) : 0;
    case kQueueDeviceHigh:
      return q ? static_cast<uint32_t>(q->device_addr() >> 32) : 0;
    // §4.2.2: no shared memory regions; a missing region has length -1.
    case kShmLenLow:
    case kShmLenHigh:
    case kShmBaseLow:
    case kShmBaseHigh:
      return 0xffffffff;
    case kConfigGeneration:
      return config_generation_;
    default:
      guest_errors_.warn("virtio-mmio: read of register 0x%03llx",
                         static_cast<unsigned long long>(offset));
      return 0;
  }
}

void VirtioMmio::write_register(uint64_t offset, uint32_t value) {
  SplitQueue* q = selected_queue();
  // §4.2.2.3: the driver must not touch a queue's setup while it is ready.
  bool queue_writable = q && !q->ready();
  switch (offset) {
    case kDeviceFeaturesSel:
      device_features_sel_ = value;
      return;
    case kDriverFeatures:
      if (status_ & status::kFeaturesOk) {
        guest_errors_.warn("virtio-mmio: driver features written after FEATURES_OK");
        return;
      }
      if (driver_features_sel_ == 0) driver_features_ = with_low(driver_features_, value);
      if (driver_features_sel_ == 1) driver_features_ = with_high(driver_features_, value);
      return;
    case kDriverFeaturesSel:
      driver_features_sel_ = value;
      return;
    case kQueueSel:
      queue_sel_ = value;
      return;
    case kQueueNum:
      if (queue_writable) q->set_size(value);
      break;
    case kQueueReady:
      if (!q) break;
      if (!(value & 1)) {
        q->disable();
        return;
      }
      if (q->ready()) return;
      if (Result<void> r = q->enable(driver_features_ & feature::kIndirectDesc); !r.ok()) {
        needs_reset(r.error());
      }
      return;
    case kQueueNotify:
      notify(value & 0xffff);
      return;
    case kInterruptAck:
      interrupt_status_ &= ~value;
      update_irq();
      return;
    case kStatus:
      write_status(value);
      return;
    case kQueueDescLow:
      if (queue_writable) q->set_desc_addr(with_low(q->desc_addr(), value));
      break;
    case kQueueDescHigh:
      if (queue_writable) q->set_desc_addr(with_high(q->desc_addr(), value));
      break;
    case kQueueDriverLow:
      if (queue_writable) q->set_driver_addr(with_low(q->driver_addr(), value));
      break;
    case kQueueDriverHigh:
      if (queue_writable) q->set_driver_addr(with_high(q->driver_addr(), value));
      break;
    case kQueueDeviceLow:
      if (queue_writable) q->set_device_addr(with_low(q->device_addr(), value));
      break;
    case kQueueDeviceHigh:
      if (queue_writable) q->set_device_addr(with_high(q->device_addr(), value));
      break;
    case kShmSel:
      return;
    default:
      guest_errors_.warn("virtio-mmio: write of 0x%x to register 0x%03llx ignored", value,
                         static_cast<unsigned long long>(offset));
      return;
  }
  // Only queue-setup writes reach here.
  if (!queue_writable) {
    guest_errors_.warn("virtio-mmio: queue register 0x%03llx written for %s queue %u",
                       static_cast<unsigned long long>(offset), q ? "ready" : "nonexistent",
                       queue_sel_);
  }
}

void VirtioMmio::read_config(uint64_t offset, unsigned size, uint64_t& value) const {
  uint8_t bytes[8] = {};
  uint64_t config_size = device_->config_size();
  if (offset < config_size) {
    uint64_t n = std::min<uint64_t>(size, config_size - offset);
    device_->read_config(static_cast<uint32_t>(offset), std::span(bytes, n));
  }
  value = 0;
  for (unsigned i = 0; i < size; ++i) value |= uint64_t{bytes[i]} << (8 * i);
}

void VirtioMmio::write_config(uint64_t offset, unsigned size, uint64_t value) {
  uint64_t config_size = device_->config_size();
  if (offset >= config_size) return;
  uint8_t bytes[8];
  for (unsigned i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  uint64_t n = std::min<uint64_t>(size, config_size - offset);
  device_->write_config(static_cast<uint32_t>(offset), std::span<const uint8_t>(bytes, n));
}

bool VirtioMmio::mmio_read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard lock(mutex_);
  if (offset >= kConfig) {
    read_config(offset - kConfig, size, value);
    return true;
  }
  // §4.2.2.2: control registers are accessed 32 bits at a time.
  if (size != 4) {
    guest_errors_.warn("virtio-mmio: %u-byte read of register 0x%03llx", size,
                       static_cast<unsigned long long>(offset));
    value = 0;
    return true;
  }
  value = read_register(offset);
  return true;
}

bool VirtioMmio::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard lock(mutex_);
  if (offset >= kConfig) {
    write_config(offset - kConfig, size, value);
    return true;
  }
  if (size != 4) {
    guest_errors_.warn("virtio-mmio: %u-byte write of register 0x%03llx ignored", size,
                       static_cast<unsigned long long>(offset));
    return true;
  }
  write_register(offset, static_cast<uint32_t>(value));
  return true;
}

void VirtioMmio::save(StateWriter& out) const {
  std::lock_guard lock(mutex_);
  out.begin_section("virtio-mmio", kStateVersion);
  out.u32(static_cast<uint32_t>(device_->device_id()));
  out.u32(status_);
  out.u32(device_features_sel_);
  out.u32(driver_features_sel_);
  out.u64(driver_features_);
  out.u32(queue_sel_);
  out.u32(interrupt_status_);
  out.u32(config_generation_);
  out.u32(static_cast<uint32_t>(queues_.size()));
  for (const SplitQueue& q : queues_) {
    out.u32(q.size());
    out.boolean(q.ready());
    out.boolean(q.indirect());
    out.u64(q.desc_addr());
    out.u64(q.driver_addr());
    out.u64(q.device_addr());
    out.u16(q.last_avail());
    out.u16(q.next_used());
  }
  device_->save(out);
  out.end_section();
}

Result<void> VirtioMmio::load(StateReader& in) {
  std::lock_guard lock(mutex_);
  TRY(in.begin_section("virtio-mmio", kStateVersion));
  uint32_t device_id = in.u32();
  if (!in.failed() && device_id != static_cast<uint32_t>(device_->device_id())) {
    return Error("saved state: virtio-mmio slot holds device type " + std::to_string(device_id) +
                 ", this board has type " +
                 std::to_string(static_cast<uint32_t>(device_->device_id())));
  }
  uint32_t status = in.u32();
  uint32_t device_features_sel = in.u32();
  uint32_t driver_features_sel = in.u32();
  uint64_t driver_features = in.u64();
  uint32_t queue_sel = in.u32();
  uint32_t interrupt_status = in.u32();
  uint32_t config_generation = in.u32();
  uint32_t queue_count = in.u32();
  if (!in.failed() && queue_count != queues_.size()) {
    return Error("saved state: virtio device has " + std::to_string(queue_count) +
                 " queues, expected " + std::to_string(queues_.size()));
  }
  // Restore into fresh queues first so a rejected state leaves the device as it was.
  std::vector<SplitQueue> queues;
  queues.reserve(queues_.size());
  for (const SplitQueue& current : queues_) {
    uint32_t size = in.u32();
    bool ready = in.boolean();
    bool indirect = in.boolean();
    uint64_t desc = in.u64();
    uint64_t driver = in.u64();
    uint64_t device = in.u64();
    uint16_t last_avail = in.u16();
    uint16_t next_used = in.u16();
    if (in.failed()) return Error("saved state: virtio-mmio section truncated");
    SplitQueue& q = queues.emplace_back(ram_, current.max_size());
    if (Result<void> r =
            q.restore(size, ready, indirect, desc, driver, device, last_avail, next_used);
        !r.ok()) {
      return Error("saved state: virtio queue: " + r.error().message());
    }
  }
  TRY(device_->load(in));
  TRY(in.end_section());

  queues_.swap(queues);
  status_ = status & kStatusMask;
  device_features_sel_ = device_features_sel;
  driver_features_sel_ = driver_features_sel;
  driver_features_ = driver_features;
  queue_sel_ = queue_sel;
  interrupt_status_ = interrupt_status & (kInterruptUsedBuffer | kInterruptConfigChange);
  config_generation_ = config_generation;
  if (status_ & status::kDriverOk) device_->activate(driver_features_);
  irq_level_ = interrupt_status_ != 0;
  if (irq_) irq_(irq_level_);
  return Ok();
}

}  // namespace vessel::devices::virtio

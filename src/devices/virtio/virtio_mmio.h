// virtio-mmio transport, version 2 (virtio 1.2 §4.2.2): the register window
// through which the driver discovers a virtio device, negotiates features,
// sets up its split virtqueues and notifies it. Little-endian, modern only.
//
// Queues are processed synchronously on the vCPU thread that writes
// QueueNotify, or on a device's own thread through run_queue() (a NIC's
// receive path), always under the transport's lock. A driver that breaks the protocol puts the
// device into DEVICE_NEEDS_RESET (with a configuration-change interrupt) until it resets the
// device; nothing a guest writes can take the host process down.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "base/state.h"
#include "devices/irq.h"
#include "devices/virtio/device.h"
#include "devices/virtio/queue.h"
#include "memory/address_space.h"
#include "memory/mmio.h"

namespace vessel::devices::virtio {

class VirtioMmio : public memory::MmioHandler, private QueueHost {
 public:
  static constexpr uint64_t kWindowSize = 0x1000;
  static constexpr uint32_t kMagic = 0x74726976;  // "virt"
  static constexpr uint32_t kVersion = 2;
  static constexpr uint32_t kVendorId = 0x4c535356;  // "VSSL"

  // `irq` is driven with the transport's lock held and must not call back
  // into the device.
  VirtioMmio(memory::AddressSpace& ram, IrqLine irq, std::unique_ptr<VirtioDevice> device);
  ~VirtioMmio() override;
  VirtioMmio(const VirtioMmio&) = delete;
  VirtioMmio& operator=(const VirtioMmio&) = delete;

  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Machine reset: the device reset a driver makes by writing status 0
  // (queues dropped, features forgotten, interrupt low). A device's own
  // threads go on: they reach the queues only through run_queue(), under
  // the same lock, and find the device stopped until a driver sets it up.
  void reset();

  // One section holding the transport's registers, every queue's position
  // and, nested, the device type's own section.
  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

  VirtioDevice& device() { return *device_; }
  // Runs `work(device())` while no queue is processed (under the transport's
  // lock): requests in progress finish first, new ones wait until it returns.
  // For host-side changes under a running guest, such as a disk's new image.
  template <typename Work>
  auto with_device_quiesced(Work&& work) {
    std::lock_guard lock(mutex_);
    return work(*device_);
  }
  uint32_t device_status() const;
  uint32_t interrupt_status() const;

 private:
  uint64_t offered_features() const;
  SplitQueue* selected_queue();
  uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  void write_status(uint32_t value);
  void notify(uint32_t index);
  bool run_queue(unsigned index, QueueTask task) override;
  void finish(SplitQueue& queue, const Result<void>& result);
  void reset_locked();
  void needs_reset(const Error& why);
  void raise_interrupt(uint32_t bits);
  void update_irq();
  void read_config(uint64_t offset, unsigned size, uint64_t& value) const;
  void write_config(uint64_t offset, unsigned size, uint64_t value);

  memory::AddressSpace& ram_;
  IrqLine irq_;
  std::unique_ptr<VirtioDevice> device_;
  log::GuestErrorLog guest_errors_;

  mutable std::mutex mutex_;
  std::vector<SplitQueue> queues_;
  uint32_t status_ = 0;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t queue_sel_ = 0;
  uint32_t interrupt_status_ = 0;
  uint32_t config_generation_ = 0;
  bool irq_level_ = false;
};

}  // namespace vessel::devices::virtio

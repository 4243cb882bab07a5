// virtio-rng (virtio 1.2 §5.4): fills the driver's buffers with entropy from
// the host kernel (getrandom). The small device to copy when writing a new one.
#pragma once

#include "base/log.h"
#include "devices/virtio/device.h"

namespace vessel::devices::virtio {

class VirtioRng : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 64;
  // Most bytes handed out per buffer, so one notification stays short; the
  // used length tells the driver how much it got (§5.4.6.1).
  static constexpr uint32_t kMaxBytesPerBuffer = 64 * 1024;

  VirtioRng() = default;

  DeviceId device_id() const override { return DeviceId::kEntropy; }
  uint64_t device_features() const override { return 0; }
  unsigned num_queues() const override { return 1; }
  uint16_t queue_max_size(unsigned /*index*/) const override { return kQueueSize; }
  uint32_t config_size() const override { return 0; }
  void read_config(uint32_t /*offset*/, std::span<uint8_t> /*out*/) const override {}
  void reset() override {}
  Result<void> process_queue(unsigned index, SplitQueue& queue, memory::AddressSpace& ram) override;
  void save(StateWriter& out) const override;
  Result<void> load(StateReader& in) override;

 private:
  log::GuestErrorLog host_errors_;
};

}  // namespace vessel::devices::virtio

// virtio-net (virtio 1.2 §5.1): one receive and one transmit queue in front
// of a net::NetBackend. Offloads (checksum, TSO) are offered only when the
// backend carries the virtio-net header (a TAP); mergeable receive buffers
// always.
//
// Frames the guest sends are handed to the backend on the vCPU thread that
// notified the queue. Frames from the host arrive on the backend's thread,
// which asks the transport to run the receive queue with the frame
// (QueueHost::run_queue); when the guest has no buffer left, the backend is
// told to wait (back-pressure) and resumed when the guest adds buffers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/log.h"
#include "devices/virtio/device.h"
#include "net/net_backend.h"
#include "net/nic_config.h"

namespace vessel::devices::virtio {

class VirtioNet : public VirtioDevice, private net::FrameSink {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr unsigned kRxQueue = 0;
  static constexpr unsigned kTxQueue = 1;
  static constexpr uint16_t kMtu = 1500;

  VirtioNet(std::unique_ptr<net::NetBackend> backend, net::MacAddress mac);
  ~VirtioNet() override;

  DeviceId device_id() const override { return DeviceId::kNet; }
  uint64_t device_features() const override;
  unsigned num_queues() const override { return 2; }
  uint16_t queue_max_size(unsigned /*index*/) const override { return kQueueSize; }
  uint32_t config_size() const override;
  void read_config(uint32_t offset, std::span<uint8_t> out) const override;
  void attach(QueueHost& host) override;
  void stop() override;
  void activate(uint64_t features) override;
  void reset() override;
  Result<void> process_queue(unsigned index, SplitQueue& queue, memory::AddressSpace& ram) override;
  void save(StateWriter& out) const override;
  Result<void> load(StateReader& in) override;

  // Frames dropped: malformed, too large for what was negotiated (or for
  // the guest's buffers), arriving while the driver is not running, or lost
  // to a broken ring.
  uint64_t rx_dropped() const { return rx_dropped_.load(std::memory_order_relaxed); }
  uint64_t tx_dropped() const { return tx_dropped_.load(std::memory_order_relaxed); }

 private:
  bool deliver(std::span<const uint8_t> frame) override;
  Result<void> transmit(SplitQueue& queue, memory::AddressSpace& ram);
  // Writes the offered frame into receive buffers. False: not enough
  // buffers (nothing consumed).
  Result<bool> receive(std::span<const uint8_t> frame, SplitQueue& queue,
                       memory::AddressSpace& ram);
  Result<bool> receive_merged(std::span<const uint8_t> header, std::span<const uint8_t> payload,
                              SplitQueue& queue, memory::AddressSpace& ram);
  Result<bool> receive_single(std::span<const uint8_t> header, std::span<const uint8_t> payload,
                              SplitQueue& queue, memory::AddressSpace& ram);
  bool negotiated(uint64_t bit) const { return (features_ & bit) != 0; }
  size_t max_frame(bool gso) const;

  std::unique_ptr<net::NetBackend> backend_;
  net::MacAddress mac_;
  QueueHost* host_ = nullptr;

  // Under the transport's lock.
  uint64_t features_ = 0;
  bool rx_waiting_ = false;  // a delivery was refused for want of buffers
  std::vector<iovec> tx_pieces_;
  std::vector<DescriptorChain> rx_chains_;
  std::vector<SplitQueue::Used> rx_used_;

  std::atomic<uint64_t> rx_dropped_{0};
  std::atomic<uint64_t> tx_dropped_{0};
  log::GuestErrorLog guest_errors_;
};

}  // namespace vessel::devices::virtio

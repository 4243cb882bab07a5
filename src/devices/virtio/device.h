// The contract between the virtio-mmio transport and a virtio device type
// (blk, rng, …). The transport owns feature negotiation, queues, status and
// interrupts; a device supplies its ID, features, configuration space and
// what it does with the buffers the driver makes available.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"
#include "base/state.h"
#include "devices/virtio/queue.h"
#include "memory/address_space.h"

namespace vessel::devices::virtio {

// virtio 1.2 §5: device IDs.
enum class DeviceId : uint32_t {
  kNet = 1,
  kBlock = 2,
  kConsole = 3,
  kEntropy = 4,
};

// virtio 1.2 §2.1: device status field.
namespace status {
inline constexpr uint32_t kAcknowledge = 1;
inline constexpr uint32_t kDriver = 2;
inline constexpr uint32_t kDriverOk = 4;
inline constexpr uint32_t kFeaturesOk = 8;
inline constexpr uint32_t kNeedsReset = 64;
inline constexpr uint32_t kFailed = 128;
}  // namespace status

// virtio 1.2 §6: reserved (device-independent) feature bits.
namespace feature {
inline constexpr uint64_t kIndirectDesc = uint64_t{1} << 28;
inline constexpr uint64_t kEventIdx = uint64_t{1} << 29;
inline constexpr uint64_t kVersion1 = uint64_t{1} << 32;
}  // namespace feature

// Work on one queue, run by the transport under its lock: a plain function
// and its context, so that handing over a received frame allocates nothing.
struct QueueTask {
  Result<void> (*run)(void* context, SplitQueue& queue, memory::AddressSpace& ram);
  void* context;
};

// What a device whose work also starts on its own threads (a NIC receiving
// frames from the host) may ask of its transport.
class QueueHost {
 public:
  // Runs `task` on queue `index` under the transport's lock, as a driver
  // notification runs process_queue(), then interrupts the driver or puts
  // the device into DEVICE_NEEDS_RESET accordingly. Returns false, running
  // nothing, unless the driver has the device running and the queue ready.
  virtual bool run_queue(unsigned index, QueueTask task) = 0;

 protected:
  ~QueueHost() = default;
};

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual DeviceId device_id() const = 0;
  // Device-type feature bits on offer; the transport adds the ring and
  // version bits it implements itself (VERSION_1, INDIRECT_DESC).
  virtual uint64_t device_features() const = 0;

  virtual unsigned num_queues() const = 0;
  // Largest size the driver may give queue `index` (a power of 2, ≤ 32768).
  virtual uint16_t queue_max_size(unsigned index) const = 0;

  // Device-specific configuration space (virtio 1.2 §4.2.2: at 0x100).
  virtual uint32_t config_size() const = 0;
  // Bytes [offset, offset + out.size()), which lie within config_size().
  virtual void read_config(uint32_t offset, std::span<uint8_t> out) const = 0;
  // Default: every field is read-only and the write is dropped.
  virtual void write_config(uint32_t /*offset*/, std::span<const uint8_t> /*data*/) {}

  // The transport is in place; a device with threads of its own may start
  // them and from now on call `host` (which outlives stop()).
  virtual void attach(QueueHost& /*host*/) {}
  // Ends the device's own threads before the transport goes away.
  virtual void stop() {}

  // The driver set DRIVER_OK after negotiating `features`.
  virtual void activate(uint64_t /*features*/) {}
  // The driver reset the device (status 0): forget everything negotiated.
  virtual void reset() = 0;

  // The driver notified queue `index`: consume its available buffers. An
  // Error means the driver broke the protocol; the transport then puts the
  // device into DEVICE_NEEDS_RESET. Called with the transport's lock held.
  virtual Result<void> process_queue(unsigned index, SplitQueue& queue,
                                     memory::AddressSpace& ram) = 0;

  // The device type's own state, as one versioned section.
  virtual void save(StateWriter& out) const = 0;
  virtual Result<void> load(StateReader& in) = 0;
};

}  // namespace vessel::devices::virtio

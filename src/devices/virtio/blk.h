// virtio-blk (virtio 1.2 §5.2) over a BlockBackend: IN, OUT, FLUSH, GET_ID,
// DISCARD and WRITE_ZEROES requests on one queue, 512-byte sectors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/log.h"
#include "block/block_backend.h"
#include "devices/virtio/device.h"

namespace vessel::devices::virtio {

class VirtioBlk : public VirtioDevice {
 public:
  static constexpr uint64_t kSectorSize = 512;
  static constexpr uint16_t kQueueSize = 256;
  static constexpr size_t kSerialLength = 20;  // §5.2.6: VIRTIO_BLK_ID_BYTES

  // `read_only` (or a read-only backend) offers VIRTIO_BLK_F_RO and answers
  // writes with VIRTIO_BLK_S_IOERR. `serial` longer than 20 bytes is cut.
  VirtioBlk(std::unique_ptr<block::BlockBackend> backend, bool read_only, std::string serial);

  DeviceId device_id() const override { return DeviceId::kBlock; }
  uint64_t device_features() const override;
  unsigned num_queues() const override { return 1; }
  uint16_t queue_max_size(unsigned /*index*/) const override { return kQueueSize; }
  uint32_t config_size() const override;
  void read_config(uint32_t offset, std::span<uint8_t> out) const override;
  void reset() override {}
  Result<void> process_queue(unsigned index, SplitQueue& queue, memory::AddressSpace& ram) override;
  void save(StateWriter& out) const override;
  Result<void> load(StateReader& in) override;

  uint64_t capacity_sectors() const { return capacity_; }
  // The image under the disk. Used only while no request runs: the VM paused,
  // or inside VirtioMmio::with_device_quiesced().
  block::BlockBackend& backend() { return *backend_; }
  // Puts `backend` in place of the current image and returns that one, under
  // the same conditions. The guest sees the same disk: the new image must
  // have the size and writability of the old one.
  Result<std::unique_ptr<block::BlockBackend>> swap_backend(
      std::unique_ptr<block::BlockBackend> backend);

 private:
  Result<uint32_t> handle(const DescriptorChain& chain, memory::AddressSpace& ram);
  uint8_t do_read(const DescriptorChain& chain, memory::AddressSpace& ram, uint64_t sector,
                  uint64_t len);
  uint8_t do_write(const DescriptorChain& chain, memory::AddressSpace& ram, uint64_t sector,
                   uint64_t len);
  uint8_t do_zero_ranges(const DescriptorChain& chain, memory::AddressSpace& ram, bool discard,
                         uint64_t len);
  uint8_t do_get_id(const DescriptorChain& chain, memory::AddressSpace& ram, uint64_t len);
  bool in_range(uint64_t sector, uint64_t len) const;

  std::unique_ptr<block::BlockBackend> backend_;
  bool read_only_;
  std::string serial_;
  uint64_t capacity_;  // in sectors
  log::GuestErrorLog guest_errors_;
  log::GuestErrorLog host_errors_;
};

}  // namespace vessel::devices::virtio

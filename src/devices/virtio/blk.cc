#include "devices/virtio/blk.h"

#include <array>
#include <cstring>
#include <utility>
#include <vector>

namespace vessel::devices::virtio {
namespace {

// §5.2.3: feature bits.
constexpr uint64_t kFeatureSegMax = uint64_t{1} << 2;
constexpr uint64_t kFeatureRo = uint64_t{1} << 5;
constexpr uint64_t kFeatureBlkSize = uint64_t{1} << 6;
constexpr uint64_t kFeatureFlush = uint64_t{1} << 9;
constexpr uint64_t kFeatureDiscard = uint64_t{1} << 13;
constexpr uint64_t kFeatureWriteZeroes = uint64_t{1} << 14;

// §5.2.6: request types and status values.
constexpr uint32_t kTypeIn = 0;
constexpr uint32_t kTypeOut = 1;
constexpr uint32_t kTypeFlush = 4;
constexpr uint32_t kTypeGetId = 8;
constexpr uint32_t kTypeDiscard = 11;
constexpr uint32_t kTypeWriteZeroes = 13;
constexpr uint8_t kStatusOk = 0;
constexpr uint8_t kStatusIoErr = 1;
constexpr uint8_t kStatusUnsupported = 2;

// §5.2.6: struct virtio_blk_req's header, which the device reads first.
struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

// §5.2.6: one range of a DISCARD or WRITE_ZEROES request.
struct RangeSegment {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;
};
static_assert(sizeof(RangeSegment) == 16);
constexpr uint32_t kRangeFlagUnmap = 1;

// §5.2.4: struct virtio_blk_config, up to and including write_zeroes_may_unmap
// and its padding; the fields in between belong to features not offered
// (geometry, topology, writeback, multiqueue) and read as zero.
constexpr uint32_t kConfigCapacity = 0;
constexpr uint32_t kConfigSegMax = 12;
constexpr uint32_t kConfigBlkSize = 20;
constexpr uint32_t kConfigMaxDiscardSectors = 36;
constexpr uint32_t kConfigMaxDiscardSeg = 40;
constexpr uint32_t kConfigDiscardSectorAlignment = 44;
constexpr uint32_t kConfigMaxWriteZeroesSectors = 48;
constexpr uint32_t kConfigMaxWriteZeroesSeg = 52;
constexpr uint32_t kConfigWriteZeroesMayUnmap = 56;
constexpr uint32_t kConfigSize = 60;

// Two descriptors of every request carry the header and the status byte.
constexpr uint32_t kSegMax = VirtioBlk::kQueueSize - 2;
// Limits of one DISCARD or WRITE_ZEROES request: Linux sends at most 256
// ranges; a range is at most 4 GiB - 512 bytes (a 32-bit sector count).
constexpr uint32_t kMaxRanges = 256;
constexpr uint32_t kMaxRangeSectors = UINT32_MAX / 512;

constexpr uint32_t kStateVersion = 1;

template <typename T>
void put(std::array<uint8_t, kConfigSize>& config, uint32_t offset, T value) {
  std::memcpy(config.data() + offset, &value, sizeof value);
}

}  // namespace

VirtioBlk::VirtioBlk(std::unique_ptr<block::BlockBackend> backend, bool read_only,
                     std::string serial)
    : backend_(std::move(backend)),
      read_only_(read_only || backend_->read_only()),
      serial_(std::move(serial)),
      capacity_(backend_->size() / kSectorSize) {
  if (serial_.size() > kSerialLength) serial_.resize(kSerialLength);
}

Result<std::unique_ptr<block::BlockBackend>> VirtioBlk::swap_backend(
    std::unique_ptr<block::BlockBackend> backend) {
  if (backend->size() != capacity_ * kSectorSize) {
    return Error("the new image has " + std::to_string(backend->size()) + " bytes; the disk has " +
                 std::to_string(capacity_ * kSectorSize));
  }
  if (backend->read_only() && !read_only_) return Error("the new image is read-only");
  std::swap(backend, backend_);
  return backend;
}

uint64_t VirtioBlk::device_features() const {
  uint64_t features = kFeatureSegMax | kFeatureBlkSize | kFeatureFlush;
  if (read_only_) {
    features |= kFeatureRo;
  } else {
    features |= kFeatureDiscard | kFeatureWriteZeroes;
  }
  return features;
}

uint32_t VirtioBlk::config_size() const {
  return kConfigSize;
}

void VirtioBlk::read_config(uint32_t offset, std::span<uint8_t> out) const {
  std::array<uint8_t, kConfigSize> config{};
  put<uint64_t>(config, kConfigCapacity, capacity_);
  put<uint32_t>(config, kConfigSegMax, kSegMax);
  put<uint32_t>(config, kConfigBlkSize, static_cast<uint32_t>(kSectorSize));
  put<uint32_t>(config, kConfigMaxDiscardSectors, kMaxRangeSectors);
  put<uint32_t>(config, kConfigMaxDiscardSeg, kMaxRanges);
  put<uint32_t>(config, kConfigDiscardSectorAlignment, 1);
  put<uint32_t>(config, kConfigMaxWriteZeroesSectors, kMaxRangeSectors);
  put<uint32_t>(config, kConfigMaxWriteZeroesSeg, kMaxRanges);
  put<uint8_t>(config, kConfigWriteZeroesMayUnmap, 1);
  std::memcpy(out.data(), config.data() + offset, out.size());
}

bool VirtioBlk::in_range(uint64_t sector, uint64_t len) const {
  if (sector > capacity_) return false;
  return len <= (capacity_ - sector) * kSectorSize;
}

uint8_t VirtioBlk::do_read(const DescriptorChain& chain, memory::AddressSpace& ram, uint64_t sector,
                           uint64_t len) {
  if (len % kSectorSize != 0 || !in_range(sector, len)) {
    guest_errors_.warn("virtio-blk: read of %llu bytes at sector %llu outside the disk",
                       static_cast<unsigned long long>(len),
                       static_cast<unsigned long long>(sector));
    return kStatusIoErr;
  }
  uint64_t pos = sector * kSectorSize;
  Result<void> r =
      chain.for_each_writable(ram, 0, len, [&](uint8_t* host, uint64_t n) -> Result<void> {
        TRY(backend_->read(pos, std::span(host, n)));
        pos += n;
        return Ok();
      });
  if (!r.ok()) {
    host_errors_.warn("virtio-blk: %s", r.error().message().c_str());
    return kStatusIoErr;
  }
  return kStatusOk;
}

uint8_t VirtioBlk::do_write(const DescriptorChain& chain, memory::AddressSpace& ram,
                            uint64_t sector, uint64_t len) {
  if (read_only_) return kStatusIoErr;
  if (len % kSectorSize != 0 || !in_range(sector, len)) {
    guest_errors_.warn("virtio-blk: write of %llu bytes at sector %llu outside the disk",
                       static_cast<unsigned long long>(len),
                       static_cast<unsigned long long>(sector));
    return kStatusIoErr;
  }
  uint64_t pos = sector * kSectorSize;
  Result<void> r = chain.for_each_readable(
      ram, sizeof(RequestHeader), len, [&](uint8_t* host, uint64_t n) -> Result<void> {
        TRY(backend_->write(pos, std::span<const uint8_t>(host, n)));
        pos += n;
        return Ok();
      });
  if (!r.ok()) {
    host_errors_.warn("virtio-blk: %s", r.error().message().c_str());
    return kStatusIoErr;
  }
  return kStatusOk;
}

// §5.2.6.2: "reads of the specified ranges of sectors MUST return zeroes"
// after WRITE_ZEROES (unmap: the storage may be freed); after DISCARD they
// read what the backend leaves (zeros for raw files, see discard()). Unknown
// flags, and unmap on DISCARD, are UNSUPP.
uint8_t VirtioBlk::do_zero_ranges(const DescriptorChain& chain, memory::AddressSpace& ram,
                                  bool discard, uint64_t len) {
  if (read_only_) return kStatusIoErr;
  if (len == 0 || len % sizeof(RangeSegment) != 0 || len / sizeof(RangeSegment) > kMaxRanges) {
    guest_errors_.warn("virtio-blk: %s request with %llu bytes of ranges",
                       discard ? "discard" : "write-zeroes", static_cast<unsigned long long>(len));
    return kStatusIoErr;
  }
  std::vector<RangeSegment> ranges(len / sizeof(RangeSegment));
  if (!chain
           .read(ram, sizeof(RequestHeader),
                 std::span(reinterpret_cast<uint8_t*>(ranges.data()), len))
           .ok()) {
    return kStatusIoErr;
  }
  for (const RangeSegment& r : ranges) {
    uint32_t allowed = discard ? 0 : kRangeFlagUnmap;
    if ((r.flags & ~allowed) != 0) return kStatusUnsupported;
    uint64_t bytes = uint64_t{r.num_sectors} * kSectorSize;
    if (r.num_sectors > kMaxRangeSectors || !in_range(r.sector, bytes)) {
      guest_errors_.warn("virtio-blk: zeroing %u sectors at sector %llu outside the disk",
                         r.num_sectors, static_cast<unsigned long long>(r.sector));
      return kStatusIoErr;
    }
  }
  for (const RangeSegment& r : ranges) {
    uint64_t offset = r.sector * kSectorSize;
    uint64_t bytes = uint64_t{r.num_sectors} * kSectorSize;
    bool unmap = (r.flags & kRangeFlagUnmap) != 0;
    Result<void> done = discard ? backend_->discard(offset, bytes)
                                : backend_->write_zeroes(offset, bytes,
                                                         unmap ? block::ZeroMode::kDeallocate
                                                               : block::ZeroMode::kKeepAllocation);
    if (!done.ok()) {
      host_errors_.warn("virtio-blk: %s", done.error().message().c_str());
      return kStatusIoErr;
    }
  }
  return kStatusOk;
}

uint8_t VirtioBlk::do_get_id(const DescriptorChain& chain, memory::AddressSpace& ram,
                             uint64_t len) {
  // §5.2.6.1: 20 bytes, NUL-padded, not terminated when all 20 are used.
  std::array<uint8_t, kSerialLength> id{};
  std::memcpy(id.data(), serial_.data(), serial_.size());
  uint64_t n = std::min<uint64_t>(len, kSerialLength);
  if (!chain.write(ram, 0, std::span<const uint8_t>(id.data(), n)).ok()) return kStatusIoErr;
  return kStatusOk;
}

// One request (§5.2.6): a readable header, then data (readable for OUT,
// writable for IN and GET_ID), then a writable status byte — laid out over
// the descriptors in any way the driver likes (VIRTIO_F_VERSION_1 implies
// VIRTIO_F_ANY_LAYOUT). Returns the bytes written for the used ring.
Result<uint32_t> VirtioBlk::handle(const DescriptorChain& chain, memory::AddressSpace& ram) {
  if (chain.readable_len() < sizeof(RequestHeader) || chain.writable_len() < 1) {
    return Error("virtio-blk: request without a header or a status byte");
  }
  RequestHeader header;
  TRY(chain.read(ram, 0, std::span(reinterpret_cast<uint8_t*>(&header), sizeof header)));
  uint64_t data_in = chain.writable_len() - 1;  // bytes before the status byte
  uint64_t data_out = chain.readable_len() - sizeof(RequestHeader);

  uint8_t status;
  switch (header.type) {
    case kTypeIn:
      status = do_read(chain, ram, header.sector, data_in);
      break;
    case kTypeOut:
      status = do_write(chain, ram, header.sector, data_out);
      break;
    case kTypeFlush:
      status = kStatusOk;
      if (Result<void> r = backend_->flush(); !r.ok()) {
        host_errors_.warn("virtio-blk: %s", r.error().message().c_str());
        status = kStatusIoErr;
      }
      break;
    case kTypeGetId:
      status = do_get_id(chain, ram, data_in);
      break;
    case kTypeDiscard:
    case kTypeWriteZeroes:
      status = do_zero_ranges(chain, ram, header.type == kTypeDiscard, data_out);
      break;
    default:
      guest_errors_.warn("virtio-blk: unsupported request type %u", header.type);
      status = kStatusUnsupported;
      break;
  }
  TRY(chain.write(ram, data_in, std::span<const uint8_t>(&status, 1)));
  // The status byte is the last writable byte, so the device has "written"
  // the whole writable part as far as the used length goes.
  return chain.writable_len();
}

Result<void> VirtioBlk::process_queue(unsigned /*index*/, SplitQueue& queue,
                                      memory::AddressSpace& ram) {
  for (;;) {
    TRY_ASSIGN(std::optional<DescriptorChain> chain, queue.pop());
    if (!chain) return Ok();
    TRY_ASSIGN(uint32_t written, handle(*chain, ram));
    TRY(queue.push(chain->head(), written));
  }
}

void VirtioBlk::save(StateWriter& out) const {
  out.begin_section("virtio-blk", kStateVersion);
  out.u64(capacity_);
  out.boolean(read_only_);
  out.end_section();
}

Result<void> VirtioBlk::load(StateReader& in) {
  TRY(in.begin_section("virtio-blk", kStateVersion));
  uint64_t capacity = in.u64();
  bool read_only = in.boolean();
  TRY(in.end_section());
  if (capacity != capacity_ || read_only != read_only_) {
    return Error("saved state: virtio-blk disk was " + std::to_string(capacity) + " sectors" +
                 (read_only ? " read-only" : "") + ", now " + std::to_string(capacity_) +
                 " sectors" + (read_only_ ? " read-only" : ""));
  }
  return Ok();
}

}  // namespace vessel::devices::virtio

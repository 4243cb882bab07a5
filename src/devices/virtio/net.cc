#include "devices/virtio/net.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace vessel::devices::virtio {
namespace {

// §5.1.3: feature bits.
constexpr uint64_t kFeatureCsum = uint64_t{1} << 0;
constexpr uint64_t kFeatureGuestCsum = uint64_t{1} << 1;
constexpr uint64_t kFeatureMtu = uint64_t{1} << 3;
constexpr uint64_t kFeatureMac = uint64_t{1} << 5;
constexpr uint64_t kFeatureGuestTso4 = uint64_t{1} << 7;
constexpr uint64_t kFeatureGuestTso6 = uint64_t{1} << 8;
constexpr uint64_t kFeatureGuestEcn = uint64_t{1} << 9;
constexpr uint64_t kFeatureHostTso4 = uint64_t{1} << 11;
constexpr uint64_t kFeatureHostTso6 = uint64_t{1} << 12;
constexpr uint64_t kFeatureHostEcn = uint64_t{1} << 13;
constexpr uint64_t kFeatureMrgRxbuf = uint64_t{1} << 15;
constexpr uint64_t kFeatureStatus = uint64_t{1} << 16;

// §5.1.4: struct virtio_net_config: mac, status, max_virtqueue_pairs, mtu.
constexpr uint32_t kConfigMac = 0;
constexpr uint32_t kConfigStatus = 6;
constexpr uint32_t kConfigMaxPairs = 8;
constexpr uint32_t kConfigMtu = 10;
constexpr uint32_t kConfigSize = 12;
constexpr uint16_t kStatusLinkUp = 1;

// §5.1.6: struct virtio_net_hdr fields.
constexpr size_t kHeaderSize = net::kVnetHeaderSize;
constexpr size_t kHeaderFlags = 0;
constexpr size_t kHeaderGsoType = 1;
constexpr size_t kHeaderNumBuffers = 10;
constexpr uint8_t kFlagNeedsCsum = 1;
// gso_type values; ECN is a flag on the TCP ones.
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpv4 = 1;
constexpr uint8_t kGsoTcpv6 = 4;
constexpr uint8_t kGsoEcn = 0x80;

constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;
// The largest segment TSO produces (64 KiB of IP packet) and its link header.
constexpr size_t kMaxGsoFrame = 65535 + kEthernetHeader + kVlanTag;

constexpr uint32_t kStateVersion = 1;

using Header = std::array<uint8_t, kHeaderSize>;

// §5.1.6.2.1, §5.1.6.4.1: each segmentation offload, and ECN with it, only
// as negotiated for that direction (UDP fragmentation is never offered).
bool gso_allowed(uint8_t gso_type, bool tso4, bool tso6, bool ecn) {
  if ((gso_type & kGsoEcn) && !ecn) return false;
  switch (gso_type & ~kGsoEcn) {
    case kGsoNone:
      return true;
    case kGsoTcpv4:
      return tso4;
    case kGsoTcpv6:
      return tso6;
    default:
      return false;
  }
}

}  // namespace

VirtioNet::VirtioNet(std::unique_ptr<net::NetBackend> backend, net::MacAddress mac)
    : backend_(std::move(backend)), mac_(mac) {}

VirtioNet::~VirtioNet() {
  stop();
}

uint64_t VirtioNet::device_features() const {
  uint64_t features = kFeatureMac | kFeatureStatus | kFeatureMtu | kFeatureMrgRxbuf;
  // The offloads travel in the virtio-net header: only a backend that keeps
  // it (a TAP) can honour them.
  if (backend_->has_vnet_header()) {
    features |= kFeatureCsum | kFeatureGuestCsum | kFeatureHostTso4 | kFeatureHostTso6 |
                kFeatureHostEcn | kFeatureGuestTso4 | kFeatureGuestTso6 | kFeatureGuestEcn;
  }
  return features;
}

uint32_t VirtioNet::config_size() const {
  return kConfigSize;
}

void VirtioNet::read_config(uint32_t offset, std::span<uint8_t> out) const {
  std::array<uint8_t, kConfigSize> config{};
  std::memcpy(config.data() + kConfigMac, mac_.data(), mac_.size());
  uint16_t status = kStatusLinkUp, pairs = 1, mtu = kMtu;
  std::memcpy(config.data() + kConfigStatus, &status, 2);
  std::memcpy(config.data() + kConfigMaxPairs, &pairs, 2);
  std::memcpy(config.data() + kConfigMtu, &mtu, 2);
  std::memcpy(out.data(), config.data() + offset, out.size());
}

void VirtioNet::attach(QueueHost& host) {
  host_ = &host;
  backend_->start(*this);
}

void VirtioNet::stop() {
  backend_->stop();
}

void VirtioNet::activate(uint64_t features) {
  features_ = features;
  if (backend_->has_vnet_header()) {
    backend_->set_offloads({.csum = negotiated(kFeatureGuestCsum),
                            .tso4 = negotiated(kFeatureGuestTso4),
                            .tso6 = negotiated(kFeatureGuestTso6),
                            .ecn = negotiated(kFeatureGuestEcn)});
  }
}

void VirtioNet::reset() {
  features_ = 0;
  if (backend_->has_vnet_header()) backend_->set_offloads({});
  // A backend waiting for buffers would wait forever on a reset device.
  if (rx_waiting_) backend_->resume_receive();
  rx_waiting_ = false;
}

size_t VirtioNet::max_frame(bool gso) const {
  return gso ? kMaxGsoFrame : kMtu + kEthernetHeader + kVlanTag;
}

Result<void> VirtioNet::process_queue(unsigned index, SplitQueue& queue,
                                      memory::AddressSpace& ram) {
  if (index == kTxQueue) return transmit(queue, ram);
  // New receive buffers: a backend held back for want of them may go on.
  if (rx_waiting_) {
    rx_waiting_ = false;
    backend_->resume_receive();
  }
  return Ok();
}

// §5.1.6.2: each transmit chain is a virtio_net_hdr and a frame, all
// device-readable.
Result<void> VirtioNet::transmit(SplitQueue& queue, memory::AddressSpace& ram) {
  const bool pass_header = backend_->has_vnet_header();
  for (;;) {
    TRY_ASSIGN(std::optional<DescriptorChain> chain, queue.pop());
    if (!chain) return Ok();
    if (chain->writable_len() != 0) return Error("virtio-net: transmit chain has writable buffers");
    const uint32_t len = chain->readable_len();
    if (len < kHeaderSize) return Error("virtio-net: transmit chain shorter than its header");
    Header header;
    TRY(chain->read(ram, 0, header));
    const size_t frame = len - kHeaderSize;
    const uint8_t gso = header[kHeaderGsoType];
    // Offloads the guest asks for must have been negotiated; frames must fit
    // (only a segmentation offload makes one larger than the MTU).
    bool valid = frame >= kEthernetHeader && frame <= max_frame((gso & ~kGsoEcn) != kGsoNone) &&
                 gso_allowed(gso, negotiated(kFeatureHostTso4), negotiated(kFeatureHostTso6),
                             negotiated(kFeatureHostEcn)) &&
                 (!(header[kHeaderFlags] & kFlagNeedsCsum) || negotiated(kFeatureCsum));
    if (!valid) {
      tx_dropped_.fetch_add(1, std::memory_order_relaxed);
      guest_errors_.warn("virtio-net: dropped a %zu-byte transmit frame (gso %u, flags %u)", frame,
                         gso, header[kHeaderFlags]);
    } else {
      tx_pieces_.clear();
      const size_t skip = pass_header ? 0 : kHeaderSize;
      TRY(chain->for_each_readable(ram, skip, len - skip, [this](uint8_t* host, uint64_t n) {
        tx_pieces_.push_back({host, n});
        return Ok();
      }));
      backend_->send(tx_pieces_);
    }
    TRY(queue.push(chain->head(), 0));
  }
}

bool VirtioNet::deliver(std::span<const uint8_t> frame) {
  struct Offer {
    VirtioNet* self;
    std::span<const uint8_t> frame;
    bool taken;
  } offer{this, frame, true};
  QueueTask task{[](void* context, SplitQueue& queue, memory::AddressSpace& ram) -> Result<void> {
                   auto& o = *static_cast<Offer*>(context);
                   Result<bool> taken = o.self->receive(o.frame, queue, ram);
                   if (!taken.ok()) {
                     // The driver broke the ring: the device needs a reset
                     // and the frame is lost.
                     o.self->rx_dropped_.fetch_add(1, std::memory_order_relaxed);
                     return taken.error();
                   }
                   o.taken = taken.value();
                   return Ok();
                 },
                 &offer};
  if (!host_->run_queue(kRxQueue, task)) {
    // No driver running the device: the frame falls on the floor, as on a
    // NIC that is down.
    rx_dropped_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  return offer.taken;
}

Result<bool> VirtioNet::receive(std::span<const uint8_t> frame, SplitQueue& queue,
                                memory::AddressSpace& ram) {
  Header header{};
  std::span<const uint8_t> payload = frame;
  if (backend_->has_vnet_header()) {
    if (frame.size() < kHeaderSize) {
      rx_dropped_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    std::memcpy(header.data(), frame.data(), kHeaderSize);
    payload = frame.subspan(kHeaderSize);
    // §5.1.6.4: without GUEST_CSUM the flags must be zero.
    if (!negotiated(kFeatureGuestCsum)) header[kHeaderFlags] = 0;
  }
  const uint8_t gso = header[kHeaderGsoType];
  if (payload.size() > max_frame((gso & ~kGsoEcn) != kGsoNone) ||
      !gso_allowed(gso, negotiated(kFeatureGuestTso4), negotiated(kFeatureGuestTso6),
                   negotiated(kFeatureGuestEcn))) {
    rx_dropped_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  bool taken;
  if (negotiated(kFeatureMrgRxbuf)) {
    TRY_ASSIGN(taken, receive_merged(header, payload, queue, ram));
  } else {
    TRY_ASSIGN(taken, receive_single(header, payload, queue, ram));
  }
  if (!taken) rx_waiting_ = true;
  return taken;
}

namespace {

// Writes bytes [start, start + len) of header ++ payload at `chain` offset 0.
Result<void> write_span_of(const DescriptorChain& chain, memory::AddressSpace& ram,
                           std::span<const uint8_t> header, std::span<const uint8_t> payload,
                           size_t start, size_t len) {
  size_t at = 0;
  if (start < header.size()) {
    size_t n = std::min(len, header.size() - start);
    TRY(chain.write(ram, 0, header.subspan(start, n)));
    at = n;
    start += n;
    len -= n;
  }
  if (len > 0) TRY(chain.write(ram, at, payload.subspan(start - header.size(), len)));
  return Ok();
}

Result<void> check_receive_chain(const DescriptorChain& chain) {
  if (chain.readable_len() != 0) return Error("virtio-net: receive chain has readable buffers");
  if (chain.writable_len() == 0) return Error("virtio-net: receive chain has no room");
  return Ok();
}

}  // namespace

// §5.1.6.4.2: with VIRTIO_NET_F_MRG_RXBUF a frame may span several chains;
// the first header's num_buffers says how many.
Result<bool> VirtioNet::receive_merged(std::span<const uint8_t> header,
                                       std::span<const uint8_t> payload, SplitQueue& queue,
                                       memory::AddressSpace& ram) {
  const size_t total = header.size() + payload.size();
  rx_chains_.clear();
  rx_used_.clear();
  for (size_t placed = 0; placed < total;) {
    TRY_ASSIGN(std::optional<DescriptorChain> chain, queue.pop());
    if (!chain) {
      queue.unpop(static_cast<uint16_t>(rx_chains_.size()));
      return false;
    }
    TRY(check_receive_chain(*chain));
    auto n = static_cast<uint32_t>(std::min<size_t>(chain->writable_len(), total - placed));
    rx_used_.push_back({chain->head(), n});
    rx_chains_.push_back(std::move(*chain));
    placed += n;
    // Every buffer the ring can hold at once is not enough: no number of
    // new ones would make the frame fit, and waiting for them would stall
    // the backend for good. Drop it and leave the buffers for the next.
    if (placed < total && rx_chains_.size() >= queue.size()) {
      queue.unpop(static_cast<uint16_t>(rx_chains_.size()));
      rx_dropped_.fetch_add(1, std::memory_order_relaxed);
      guest_errors_.warn("virtio-net: a %zu-byte frame does not fit the whole receive ring",
                         payload.size());
      return true;
    }
  }
  Header first;
  std::memcpy(first.data(), header.data(), kHeaderSize);
  auto buffers = static_cast<uint16_t>(rx_chains_.size());  // ≤ queue size
  std::memcpy(first.data() + kHeaderNumBuffers, &buffers, 2);
  size_t start = 0;
  for (size_t i = 0; i < rx_chains_.size(); ++i) {
    TRY(write_span_of(rx_chains_[i], ram, first, payload, start, rx_used_[i].written));
    start += rx_used_[i].written;
  }
  TRY(queue.push_all(rx_used_));
  return true;
}

// Without mergeable buffers every chain holds a whole frame (the driver
// sizes them for the largest one it negotiated).
Result<bool> VirtioNet::receive_single(std::span<const uint8_t> header,
                                       std::span<const uint8_t> payload, SplitQueue& queue,
                                       memory::AddressSpace& ram) {
  TRY_ASSIGN(std::optional<DescriptorChain> chain, queue.pop());
  if (!chain) return false;
  TRY(check_receive_chain(*chain));
  const size_t total = header.size() + payload.size();
  if (chain->writable_len() < total) {
    rx_dropped_.fetch_add(1, std::memory_order_relaxed);
    guest_errors_.warn("virtio-net: a %zu-byte frame does not fit a %u-byte receive buffer",
                       payload.size(), chain->writable_len());
    TRY(queue.push(chain->head(), 0));
    return true;
  }
  Header first;
  std::memcpy(first.data(), header.data(), kHeaderSize);
  uint16_t one = 1;
  std::memcpy(first.data() + kHeaderNumBuffers, &one, 2);
  TRY(write_span_of(*chain, ram, first, payload, 0, total));
  TRY(queue.push(chain->head(), static_cast<uint32_t>(total)));
  return true;
}

void VirtioNet::save(StateWriter& out) const {
  out.begin_section("virtio-net", kStateVersion);
  out.bytes(mac_);
  out.end_section();
}

Result<void> VirtioNet::load(StateReader& in) {
  TRY(in.begin_section("virtio-net", kStateVersion));
  std::vector<uint8_t> mac = in.bytes();
  if (!in.failed() && !std::equal(mac.begin(), mac.end(), mac_.begin(), mac_.end())) {
    return Error("saved state: virtio-net has another MAC address than " + net::format_mac(mac_));
  }
  TRY(in.end_section());
  // A backend held back before the restore would wait for a notification
  // the restored guest may never send: its ring can already hold buffers.
  if (rx_waiting_) {
    rx_waiting_ = false;
    backend_->resume_receive();
  }
  return Ok();
}

}  // namespace vessel::devices::virtio

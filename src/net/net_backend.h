// The host side of a guest NIC: where its frames go and come from (user-mode
// NAT, a TAP device). A backend knows nothing of the device in front of it;
// it moves whole Ethernet frames and runs its own I/O thread, so an idle
// network costs nothing on the vCPU threads.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace vessel::net {

// virtio 1.2 §5.1.6: struct virtio_net_hdr with num_buffers (always present
// in virtio 1.x). Backends that carry offloads (a TAP with IFF_VNET_HDR) pass
// it in front of every frame, both ways.
inline constexpr size_t kVnetHeaderSize = 12;

// Segmentation and checksum work the guest accepts on frames it receives.
struct Offloads {
  bool csum = false;
  bool tso4 = false;
  bool tso6 = false;
  bool ecn = false;
};

// Where a backend delivers the frames it receives, on the backend's thread.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // `frame` starts with the virtio-net header when the backend has one.
  // Returns false when the guest has no buffer for it: the backend keeps the
  // frame, stops reading from the host, and offers it again after
  // resume_receive(). Frames the guest cannot take at all are dropped by
  // the sink (returning true).
  virtual bool deliver(std::span<const uint8_t> frame) = 0;
};

class NetBackend {
 public:
  virtual ~NetBackend() = default;

  // Starts the I/O thread, which delivers to `sink` until stop().
  virtual void start(FrameSink& sink) = 0;
  // Joins the I/O thread: afterwards no deliver() runs or will run.
  // Idempotent; the destructor calls it too.
  virtual void stop() = 0;

  // One frame from the guest, gathered from `pieces` (with the virtio-net
  // header first when has_vnet_header()). Called on vCPU threads, never
  // from inside deliver(). A frame the host side cannot take is dropped,
  // as on a congested wire.
  virtual void send(std::span<const iovec> pieces) = 0;
  // The guest made receive buffers available after a refused deliver().
  virtual void resume_receive() = 0;

  // Whether frames carry the virtio-net header and the host side handles
  // checksum and segmentation offloads.
  virtual bool has_vnet_header() const { return false; }
  // What the guest negotiated to receive (only with a vnet header).
  virtual void set_offloads(const Offloads& /*offloads*/) {}
};

}  // namespace vessel::net

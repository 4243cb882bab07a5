// A TAP device as a NIC backend: frames go to and come from the host
// kernel's network stack, with the virtio-net header in front of each
// (IFF_VNET_HDR) so checksum and segmentation offloads pass through.
//
// open_tap() attaches to a named TAP (creating a transient one when the
// process has CAP_NET_ADMIN and it does not exist); open_bridge() creates a
// transient TAP and makes it a port of a Linux bridge. Transient TAPs vanish
// when the backend closes them, so nothing is left behind.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "net/net_backend.h"
#include "net/receive_gate.h"
#include "net/wakeup.h"

namespace vessel::net {

class TapBackend final : public NetBackend {
 public:
  static Result<std::unique_ptr<TapBackend>> open_tap(const std::string& ifname);
  static Result<std::unique_ptr<TapBackend>> open_bridge(const std::string& bridge);
  ~TapBackend() override;

  void start(FrameSink& sink) override;
  void stop() override;
  void send(std::span<const iovec> pieces) override;
  void resume_receive() override;
  bool has_vnet_header() const override { return true; }
  void set_offloads(const Offloads& offloads) override;

  const std::string& ifname() const { return ifname_; }
  uint64_t dropped_frames() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  TapBackend(int fd, std::string ifname);
  static Result<std::unique_ptr<TapBackend>> attach(const std::string& name);
  void run();
  // Reads and delivers frames until the TAP is empty or the guest is full.
  void read_frames();

  int fd_;
  std::string ifname_;
  std::vector<uint8_t> buffer_;  // I/O thread only
  size_t pending_ = 0;           // bytes of a refused frame in buffer_
  Wakeup wakeup_;
  ReceiveGate gate_;
  FrameSink* sink_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace vessel::net

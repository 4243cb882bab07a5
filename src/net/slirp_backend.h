// User-mode networking through libslirp: the guest sits behind a NAT with
// a DHCP server, a DNS forwarder and the host at 10.0.2.2 (QEMU's defaults),
// and host ports can be forwarded into the guest. No privileges needed.
//
// libslirp is not thread-safe: every call into it holds mutex_. Frames it
// produces (on any thread) are queued and delivered to the guest only from
// the I/O thread, never while mutex_ is held, so a vCPU thread sending a
// frame can never re-enter the device it is sending from.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "net/net_backend.h"
#include "net/nic_config.h"
#include "net/receive_gate.h"
#include "net/wakeup.h"

struct Slirp;

namespace vessel::net {

class SlirpBackend final : public NetBackend {
 public:
  // Frames queued for a guest that is not taking them, before new ones are
  // dropped (TCP then slows down; slirp also stops reading host sockets).
  static constexpr size_t kMaxQueuedFrames = 1024;

  // Errors: a forward that cannot listen (port taken, address not local).
  static Result<std::unique_ptr<SlirpBackend>> open(const UserNetConfig& config);
  ~SlirpBackend() override;

  void start(FrameSink& sink) override;
  void stop() override;
  void send(std::span<const iovec> pieces) override;
  void resume_receive() override;

  uint64_t dropped_frames() const { return dropped_.load(std::memory_order_relaxed); }

  struct Timer;  // libslirp's timers, run by the I/O thread

 private:
  SlirpBackend() = default;
  void run();
  void deliver_queued();
  int64_t next_timer_ms() const;
  void fire_timers();

  friend struct SlirpCallbacks;

  std::mutex mutex_;  // guards slirp_, timers_, queue_, tx_buffer_
  Slirp* slirp_ = nullptr;
  std::vector<std::unique_ptr<Timer>> timers_;
  std::deque<std::vector<uint8_t>> queue_;
  std::vector<uint8_t> tx_buffer_;

  std::vector<pollfd> pollfds_;  // I/O thread only
  Wakeup wakeup_;
  ReceiveGate gate_;
  FrameSink* sink_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::atomic<uint64_t> dropped_{0};
  log::GuestErrorLog guest_errors_;
};

}  // namespace vessel::net

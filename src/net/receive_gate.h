// Back-pressure between a backend's I/O thread and the guest's receive
// queue. When the guest has no buffer for a frame, the backend closes the
// gate and stops reading from the host until the guest returns buffers.
//
// The resume count makes this race-free: a resume that happens after the
// refused delivery began (even before refused() is recorded) leaves the gate
// open, so the backend retries instead of sleeping forever.
#pragma once

#include <atomic>
#include <cstdint>

namespace vessel::net {

class ReceiveGate {
 public:
  // I/O thread: take a ticket before each deliver(); report the outcome.
  uint64_t ticket() const { return resumes_.load(std::memory_order_acquire); }
  void refused(uint64_t ticket) {
    refused_ = true;
    refused_ticket_ = ticket;
  }
  void accepted() { refused_ = false; }
  // I/O thread: true while the last refusal has not been followed by a resume.
  bool closed() const { return refused_ && ticket() == refused_ticket_; }

  // Any thread: the guest made buffers available.
  void resume() { resumes_.fetch_add(1, std::memory_order_release); }

 private:
  std::atomic<uint64_t> resumes_{0};
  bool refused_ = false;  // I/O thread only
  uint64_t refused_ticket_ = 0;
};

}  // namespace vessel::net

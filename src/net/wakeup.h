// An eventfd that wakes a backend's poll() loop from other threads.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace vessel::net {

class Wakeup {
 public:
  Wakeup() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Wakeup() {
    if (fd_ >= 0) close(fd_);
  }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void signal() {
    uint64_t one = 1;
    // A full counter (EAGAIN) already means "wake up".
    [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof one);
  }
  void drain() {
    uint64_t count;
    [[maybe_unused]] ssize_t n = read(fd_, &count, sizeof count);
  }

 private:
  int fd_;
};

}  // namespace vessel::net

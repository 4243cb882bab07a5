#include "vmm/signals.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vessel::vmm {

Result<std::unique_ptr<SignalWatcher>> SignalWatcher::start(
    std::function<void(int signo)> on_signal) {
  std::unique_ptr<SignalWatcher> watcher(new SignalWatcher());
  watcher->on_signal_ = std::move(on_signal);

  // A reader that has gone away must not kill the VM: writes report EPIPE.
  signal(SIGPIPE, SIG_IGN);

  sigset_t set;
  sigemptyset(&set);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, signo);
  if (int rc = pthread_sigmask(SIG_BLOCK, &set, &watcher->previous_mask_); rc != 0) {
    return Error(std::string("signals: ") + strerror(rc));
  }
  watcher->signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  watcher->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (watcher->signal_fd_ < 0 || watcher->wake_fd_ < 0) {
    return Error(std::string("signals: ") + strerror(errno));
  }
  watcher->thread_ = std::thread([w = watcher.get()] { w->loop(); });
  return watcher;
}

SignalWatcher::~SignalWatcher() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof one) < 0) {
      // Cannot fail for a fresh eventfd; nothing to do if it did.
    }
    thread_.join();
  }
  if (signal_fd_ >= 0) close(signal_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

void SignalWatcher::loop() {
  pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    signalfd_siginfo info{};
    if (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      on_signal_(static_cast<int>(info.ssi_signo));
    }
  }
}

}  // namespace vessel::vmm

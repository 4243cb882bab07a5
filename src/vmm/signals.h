// Turns SIGINT, SIGTERM and SIGHUP into an orderly VM stop: the signals are
// blocked in every thread (create the watcher before any other thread) and
// read from a signalfd by a watcher thread, so the VM stops, joins its
// threads and restores the terminal instead of dying mid-write.
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <thread>

#include "base/result.h"

namespace vessel::vmm {

class SignalWatcher {
 public:
  static Result<std::unique_ptr<SignalWatcher>> start(std::function<void(int signo)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  SignalWatcher() = default;
  void loop();

  std::function<void(int)> on_signal_;
  sigset_t previous_mask_{};
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace vessel::vmm

// The host terminal in raw mode for the guest console, restored on every way
// out of the process: normal return, error, SIGTERM/SIGINT/SIGHUP (handled by
// the VM's I/O thread), a crash signal, std::terminate or exit().
#pragma once

#include <memory>

#include "base/result.h"

namespace vessel::vmm {

class RawTerminal {
 public:
  // Switches `fd` to raw mode if it is a terminal; null if it is not one.
  static Result<std::unique_ptr<RawTerminal>> enter(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  RawTerminal() = default;
};

// Puts the terminal back as it was, if raw mode is active. Async-signal-safe.
void restore_terminal();

}  // namespace vessel::vmm

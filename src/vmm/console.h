// The guest console's input side: a thread that reads the host's stdin and
// hands bytes to the guest's UART, with QEMU's escape keys (Ctrl-A x quits,
// Ctrl-A h lists the keys, Ctrl-A Ctrl-A types a literal Ctrl-A).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "base/result.h"

namespace vessel::vmm {

// The escape-key state machine, separate from the I/O so it can be tested.
class EscapeDecoder {
 public:
  static constexpr uint8_t kEscape = 0x01;  // Ctrl-A

  enum class Action : uint8_t { kNone, kForward, kQuit, kHelp };
  struct Step {
    Action action;
    uint8_t byte;  // for kForward
  };
  Step feed(uint8_t byte);

  // The text Ctrl-A h prints (lines end in \r\n: the terminal is raw).
  static const char* help_text();

 private:
  bool escaped_ = false;
};

class Console {
 public:
  struct Callbacks {
    std::function<void(uint8_t)> input;  // a byte for the guest
    std::function<size_t()> space;       // bytes `input` can take now without dropping
    std::function<void()> quit;          // Ctrl-A x
  };

  // Reads `fd` on a new thread until destroyed. With `escapes` (an
  // interactive terminal) the escape keys are interpreted; otherwise every
  // byte is forwarded. End of input only stops reading.
  static Result<std::unique_ptr<Console>> start(int fd, bool escapes, Callbacks callbacks);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

 private:
  Console(int fd, bool escapes, Callbacks callbacks, int wake_fd);
  void loop();

  int fd_;
  bool escapes_;
  Callbacks callbacks_;
  int wake_fd_;
  std::thread thread_;
};

}  // namespace vessel::vmm

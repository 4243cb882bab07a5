#include "vmm/console.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace vessel::vmm {

EscapeDecoder::Step EscapeDecoder::feed(uint8_t byte) {
  if (!escaped_) {
    if (byte == kEscape) {
      escaped_ = true;
      return {Action::kNone, 0};
    }
    return {Action::kForward, byte};
  }
  escaped_ = false;
  switch (byte) {
    case 'x':
    case 'X':
      return {Action::kQuit, 0};
    case 'h':
    case 'H':
    case '?':
      return {Action::kHelp, 0};
    case kEscape:
      return {Action::kForward, kEscape};
    default:
      return {Action::kNone, 0};  // unknown escape: both bytes dropped, as QEMU
  }
}

const char* EscapeDecoder::help_text() {
  return "\r\n"
         "C-a h    print this help\r\n"
         "C-a x    exit the virtual machine\r\n"
         "C-a C-a  send C-a to the guest\r\n";
}

Result<std::unique_ptr<Console>> Console::start(int fd, bool escapes, Callbacks callbacks) {
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return Error(std::string("console: eventfd: ") + strerror(errno));
  std::unique_ptr<Console> console(new Console(fd, escapes, std::move(callbacks), wake_fd));
  console->thread_ = std::thread([c = console.get()] { c->loop(); });
  return console;
}

Console::Console(int fd, bool escapes, Callbacks callbacks, int wake_fd)
    : fd_(fd), escapes_(escapes), callbacks_(std::move(callbacks)), wake_fd_(wake_fd) {}

Console::~Console() {
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
    // The counter cannot overflow with one write; nothing else can fail here.
  }
  if (thread_.joinable()) thread_.join();
  close(wake_fd_);
}

void Console::loop() {
  EscapeDecoder decoder;
  bool input_open = true;
  for (;;) {
    // Input the guest has not read yet stays in the host's pipe or tty
    // buffer rather than overflowing the UART: check back every 10 ms.
    size_t space = input_open ? callbacks_.space() : 0;
    pollfd fds[2] = {{space > 0 ? fd_ : -1, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, input_open && space == 0 ? 10 : -1) < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("console: poll: %s", strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;

    uint8_t buffer[256];
    ssize_t n = read(fd_, buffer, std::min(sizeof buffer, space));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // End of input (or an unreadable stdin): the guest keeps running
      // without a keyboard.
      input_open = false;
      continue;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (!escapes_) {
        callbacks_.input(buffer[i]);
        continue;
      }
      EscapeDecoder::Step step = decoder.feed(buffer[i]);
      switch (step.action) {
        case EscapeDecoder::Action::kNone:
          break;
        case EscapeDecoder::Action::kForward:
          callbacks_.input(step.byte);
          break;
        case EscapeDecoder::Action::kHelp: {
          const char* text = EscapeDecoder::help_text();
          if (write(STDERR_FILENO, text, strlen(text)) < 0) {
            // stderr gone: nothing to report to.
          }
          break;
        }
        case EscapeDecoder::Action::kQuit:
          callbacks_.quit();
          return;
      }
    }
  }
}

}  // namespace vessel::vmm

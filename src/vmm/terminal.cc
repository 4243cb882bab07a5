#include "vmm/terminal.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace vessel::vmm {
namespace {

// Process-wide, because signal handlers and exit hooks must reach it.
struct termios g_saved;
int g_fd = -1;
std::atomic<bool> g_active{false};

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGQUIT};

void on_fatal_signal(int signo) {
  restore_terminal();
  // SA_RESETHAND put the default action back: re-raise for the core dump and
  // the right exit status.
  raise(signo);
}

void install_exit_hooks() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  action.sa_flags = static_cast<int>(SA_RESETHAND | SA_NODEFER);
  sigemptyset(&action.sa_mask);
  for (int signo : kFatalSignals) sigaction(signo, &action, nullptr);
  std::atexit(restore_terminal);
  static std::terminate_handler previous = std::set_terminate([] {
    restore_terminal();
    if (previous) previous();
    std::abort();
  });
}

}  // namespace

void restore_terminal() {
  if (g_active.exchange(false)) tcsetattr(g_fd, TCSANOW, &g_saved);
}

Result<std::unique_ptr<RawTerminal>> RawTerminal::enter(int fd) {
  if (!isatty(fd)) return std::unique_ptr<RawTerminal>();
  if (g_active.load()) return Error("the terminal is already in raw mode");
  if (tcgetattr(fd, &g_saved) != 0) return Error(std::string("terminal: ") + strerror(errno));
  g_fd = fd;
  install_exit_hooks();

  // QEMU's stdio character device settings: bytes pass through unchanged
  // (no line editing, no echo, no signals from ^C/^Z/^\ — those belong to the
  // guest), while output processing stays on so host messages end lines.
  struct termios raw = g_saved;
  raw.c_iflag &=
      ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_oflag |= OPOST;
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
  raw.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB);
  raw.c_cflag |= CS8;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  g_active.store(true);
  if (tcsetattr(fd, TCSANOW, &raw) != 0) {
    int saved_errno = errno;
    restore_terminal();
    return Error(std::string("terminal: ") + strerror(saved_errno));
  }
  return std::unique_ptr<RawTerminal>(new RawTerminal());
}

RawTerminal::~RawTerminal() {
  restore_terminal();
}

}  // namespace vessel::vmm

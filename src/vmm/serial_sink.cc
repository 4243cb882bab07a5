#include "vmm/serial_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vessel::vmm {

Result<std::unique_ptr<SerialSink>> SerialSink::open(const SerialTarget& target) {
  if (target.kind == SerialTarget::Kind::kStdout) {
    return std::unique_ptr<SerialSink>(new SerialSink(STDOUT_FILENO, false));
  }
  int fd = ::open(target.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error(target.path + ": " + strerror(errno));
  return std::unique_ptr<SerialSink>(new SerialSink(fd, true));
}

SerialSink::~SerialSink() {
  if (owned_) close(fd_);
}

void SerialSink::write(uint8_t byte) {
  for (;;) {
    ssize_t n = ::write(fd_, &byte, 1);
    if (n >= 0 || errno != EINTR) return;
  }
}

}  // namespace vessel::vmm

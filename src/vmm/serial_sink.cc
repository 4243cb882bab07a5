#include "vmm/serial_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vessel::vmm {

Result<std::unique_ptr<SerialSink>> SerialSink::open(const SerialTarget& target) {
  std::string path = target.path;
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  switch (target.kind) {
    case SerialTarget::Kind::kStdout:
      return std::unique_ptr<SerialSink>(new SerialSink(STDOUT_FILENO, false));
    case SerialTarget::Kind::kFile:
      break;
    case SerialTarget::Kind::kSocket:
      if (target.logfile.empty()) return std::unique_ptr<SerialSink>();
      path = target.logfile;
      if (target.log_append) flags = (flags & ~O_TRUNC) | O_APPEND;
      break;
  }
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return Error(path + ": " + strerror(errno));
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

// Where the guest's serial output goes: the host's stdout, a file, or a Unix
// socket that a console client connects to (serial_socket.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"

namespace vessel::vmm {

struct SerialTarget {
  enum class Kind : uint8_t { kStdout, kFile, kSocket };
  Kind kind = Kind::kStdout;
  std::string path;  // kFile: the output file; kSocket: the socket
  bool wait = true;  // kSocket: the guest starts once a client has connected
  // kSocket: a file that also gets the output, client or not (QEMU's
  // chardev logfile=), appended to or else truncated (logappend=).
  std::string logfile;
  bool log_append = false;
};

class SerialSink {
 public:
  // The file or stdout that gets the output of `target`: for a socket its
  // logfile, or null without one.
  static Result<std::unique_ptr<SerialSink>> open(const SerialTarget& target);
  ~SerialSink();
  SerialSink(const SerialSink&) = delete;
  SerialSink& operator=(const SerialSink&) = delete;

  // Called from vCPU threads; one write per byte keeps interleaving with
  // host messages in order. A closed reader (EPIPE) drops the output.
  void write(uint8_t byte);

 private:
  SerialSink(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_;
  bool owned_;
};

}  // namespace vessel::vmm

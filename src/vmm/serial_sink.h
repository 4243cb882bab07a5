// Where the guest's serial output goes: the host's stdout or a file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"

namespace vessel::vmm {

struct SerialTarget {
  enum class Kind : uint8_t { kStdout, kFile };
  Kind kind = Kind::kStdout;
  std::string path;  // for kFile
};

class SerialSink {
 public:
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

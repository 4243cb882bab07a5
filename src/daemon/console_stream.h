// `virsh console`: a stream (libvirt's STREAM packets on the client's
// connection) joined to the VM's serial console socket. Bytes from the
// guest go to the client as STREAM/CONTINUE packets of the OPEN_CONSOLE
// call's serial; the client's packets go to the guest. The client ends it
// (Ctrl-]) with an empty STREAM/OK, answered with one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "base/result.h"
#include "daemon/event_hub.h"

namespace vessel::daemon {

class ConsoleStream {
 public:
  // Connects to the VM's serial socket. `procedure` and `serial` name the
  // stream in every packet.
  static Result<std::shared_ptr<ConsoleStream>> open(const std::string& socket_path,
                                                     ClientSocket& client, int32_t procedure,
                                                     uint32_t serial);
  ~ConsoleStream();
  ConsoleStream(const ConsoleStream&) = delete;
  ConsoleStream& operator=(const ConsoleStream&) = delete;

  // Starts relaying the guest's output (once; later calls do nothing),
  // after the OPEN_CONSOLE reply is out, so that no packet overtakes it.
  void start();
  uint32_t serial() const { return serial_; }
  // A packet from the client. Returns false once the stream is over.
  bool from_client(std::span<const uint8_t> data, bool end);

 private:
  ConsoleStream(int fd, ClientSocket& client, int32_t procedure, uint32_t serial)
      : fd_(fd), client_(client), procedure_(procedure), serial_(serial) {}
  void relay_output();
  std::vector<uint8_t> packet(uint32_t status, std::span<const uint8_t> data) const;

  int fd_;
  ClientSocket& client_;
  int32_t procedure_;
  uint32_t serial_;
  std::thread relay_;
};

}  // namespace vessel::daemon

// The guest's serial console on a Unix stream socket, as QEMU's
// `-serial unix:PATH,server=on,wait=off`: raw bytes both ways (no escape
// keys), one client at a time. While a client is connected the socket is
// not accepted from, so later clients wait in the listen backlog (QEMU's is
// 1, which Linux lets hold two) and are served in turn; more are refused.
//
// Guest output with no client connected is dropped, as QEMU drops it. A
// client that reads too slowly never holds up the vCPUs: its output buffer
// is bounded and what does not fit is dropped and counted.
//
// One thread polls the listening socket, the client and a wake-up eventfd.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/result.h"

namespace vessel::vmm {

class SerialSocket {
 public:
  // Output waiting for a connected client, at most.
  static constexpr size_t kOutputLimit = 64 << 10;
  static constexpr mode_t kMode = 0600;  // the console is its owner's alone

  struct Input {
    std::function<void(uint8_t)> byte;  // a byte for the guest's UART
    std::function<size_t()> space;      // bytes `byte` can take now without dropping
  };

  // Listens on `path` (an old socket file there is replaced, as QEMU does).
  static Result<std::unique_ptr<SerialSocket>> listen(const std::string& path, Input input);
  // Sends what is still buffered (for a moment), closes the connection and
  // removes the socket file.
  ~SerialSocket();
  SerialSocket(const SerialSocket&) = delete;
  SerialSocket& operator=(const SerialSocket&) = delete;

  // Blocks until a client has connected (QEMU's `wait=on`), or give_up()
  // (checked every 100 ms) says the VM is being stopped.
  void wait_for_client(const std::function<bool()>& give_up);
  // Guest output, from vCPU threads; never waits for the client.
  void write(uint8_t byte);
  // Output bytes dropped because a client did not read them in time.
  uint64_t dropped() const;

 private:
  SerialSocket(int listen_fd, int wake_fd, std::string path, Input input);
  void run();
  void accept_client();
  void read_client(size_t space);
  void flush();
  void disconnect();
  void wake();

  const int listen_fd_;
  const int wake_fd_;
  const std::string path_;
  const Input input_;
  int client_fd_ = -1;  // the I/O thread's; written under mutex_

  mutable std::mutex mutex_;
  std::condition_variable connected_cv_;
  bool connected_ = false;
  bool ever_connected_ = false;
  bool stopping_ = false;
  std::string output_;  // for the client, at most kOutputLimit bytes
  uint64_t dropped_ = 0;
  uint64_t dropped_reported_ = 0;
  std::thread thread_;
};

}  // namespace vessel::vmm

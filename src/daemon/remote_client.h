// A client of another daemon's remote protocol, for what a daemon asks of a
// peer itself (virsh migrate --p2p: the source daemon drives the
// destination). Calls are made one at a time and wait for their reply.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/xdr.h"

namespace vessel::daemon {

class RemoteClient {
 public:
  // Connects to the daemon a local URI names (socket_paths.h) and opens
  // the connection.
  static Result<RemoteClient> open(const std::string& uri);
  RemoteClient(RemoteClient&& other) noexcept;
  RemoteClient& operator=(RemoteClient&&) = delete;
  ~RemoteClient();

  // Calls `procedure` with the arguments `args` encodes; the reply's
  // payload, or the error the peer answered (its libvirt code kept).
  Result<std::vector<uint8_t>> call(int32_t procedure, const std::function<void(XdrWriter&)>& args);

 private:
  explicit RemoteClient(int fd) : fd_(fd) {}
  int fd_;
  uint32_t next_serial_ = 1;
};

}  // namespace vessel::daemon

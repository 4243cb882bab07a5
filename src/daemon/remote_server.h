// vesseld's listening sockets for libvirt's remote protocol: a read-write
// one (only the daemon's own user and root may connect; SO_PEERCRED) and a
// read-only one for anybody. One thread per client connection.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "daemon/daemon_context.h"

namespace vessel::daemon {

struct ServerOptions {
  std::string socket_path;     // read-write
  std::string ro_socket_path;  // read-only; empty for none
  bool accept_qemu_uri = false;
};

class RemoteServer {
 public:
  // Binds both sockets (replacing stale socket files, refusing a path some
  // live daemon still answers on).
  static Result<std::unique_ptr<RemoteServer>> listen(DaemonContext& daemon,
                                                      const ServerOptions& options);
  ~RemoteServer();
  RemoteServer(const RemoteServer&) = delete;
  RemoteServer& operator=(const RemoteServer&) = delete;

  // Accepts clients until stop() (callable from a signal-handling thread).
  void serve();
  void stop();

 private:
  RemoteServer(DaemonContext& daemon, ServerOptions options)
      : daemon_(daemon), options_(std::move(options)) {}

  DaemonContext& daemon_;
  ServerOptions options_;
  int rw_fd_ = -1;
  int ro_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd that ends serve()
};

}  // namespace vessel::daemon

#include "daemon/remote_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "daemon/remote_connection.h"

namespace vessel::daemon {
namespace {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return Error(path + ": not a usable socket path");
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// A socket file nobody answers on is a leftover of a daemon that died.
bool someone_listens(const sockaddr_un& address) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool answered = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return answered;
}

Result<int> bind_socket(const std::string& path, mode_t mode) {
  TRY_ASSIGN(sockaddr_un address, unix_address(path));
  if (someone_listens(address)) return Error(path + ": another daemon is listening there");
  ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::chmod(path.c_str(), mode) != 0 || ::listen(fd, 128) != 0) {
    Error error(path + ": " + std::strerror(errno));
    ::close(fd);
    return error;
  }
  return fd;
}

// The read-write socket: the daemon's own user, or root.
bool peer_may_write(int fd) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) return false;
  return peer.uid == 0 || peer.uid == ::geteuid();
}

}  // namespace

Result<std::unique_ptr<RemoteServer>> RemoteServer::listen(DaemonContext& daemon,
                                                           const ServerOptions& options) {
  std::unique_ptr<RemoteServer> server(new RemoteServer(daemon, options));
  TRY_ASSIGN(server->rw_fd_, bind_socket(options.socket_path, 0700));
  if (!options.ro_socket_path.empty()) {
    TRY_ASSIGN(server->ro_fd_, bind_socket(options.ro_socket_path, 0777));
  }
  server->stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (server->stop_fd_ < 0) return Error(std::string("eventfd: ") + std::strerror(errno));
  return server;
}

RemoteServer::~RemoteServer() {
  for (int fd : {rw_fd_, ro_fd_, stop_fd_}) {
    if (fd >= 0) ::close(fd);
  }
  ::unlink(options_.socket_path.c_str());
  if (!options_.ro_socket_path.empty()) ::unlink(options_.ro_socket_path.c_str());
}

void RemoteServer::serve() {
  for (;;) {
    pollfd fds[3] = {{stop_fd_, POLLIN, 0}, {rw_fd_, POLLIN, 0}, {ro_fd_, POLLIN, 0}};
    if (::poll(fds, ro_fd_ >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("poll: %s", std::strerror(errno));
      return;
    }
    if (fds[0].revents) return;
    for (int i = 1; i < 3; ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      int client = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      Session session;
      session.accept_qemu_uri = options_.accept_qemu_uri;
      session.read_only = fds[i].fd == ro_fd_;
      if (!session.read_only && !peer_may_write(client)) {
        ::close(client);
        continue;
      }
      std::thread([client, &daemon = daemon_, session] {
        serve_connection(client, daemon, session);
      }).detach();
    }
  }
}

void RemoteServer::stop() {
  uint64_t one = 1;
  (void)::write(stop_fd_, &one, sizeof one);
}

}  // namespace vessel::daemon

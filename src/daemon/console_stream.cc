#include "daemon/console_stream.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/rpc_message.h"

namespace vessel::daemon {

Result<std::shared_ptr<ConsoleStream>> ConsoleStream::open(const std::string& socket_path,
                                                           ClientSocket& client, int32_t procedure,
                                                           uint32_t serial) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) return Error(socket_path + ": path too long");
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    Error error("the VM's console: " + std::string(std::strerror(errno)));
    if (fd >= 0) ::close(fd);
    return error;
  }
  return std::shared_ptr<ConsoleStream>(new ConsoleStream(fd, client, procedure, serial));
}

ConsoleStream::~ConsoleStream() {
  ::shutdown(fd_, SHUT_RDWR);
  if (relay_.joinable()) relay_.join();
  ::close(fd_);
}

void ConsoleStream::start() {
  if (!relay_.joinable()) relay_ = std::thread([this] { relay_output(); });
}

std::vector<uint8_t> ConsoleStream::packet(uint32_t status, std::span<const uint8_t> data) const {
  XdrWriter writer =
      rpc::begin_message({rpc::kRemoteProgram, rpc::kRemoteVersion, procedure_, rpc::Type::kStream,
                          serial_, static_cast<rpc::Status>(status)});
  writer.raw(data);
  return rpc::finish(writer);
}

void ConsoleStream::relay_output() {
  uint8_t buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!client_.send(packet(static_cast<uint32_t>(rpc::Status::kContinue),
                             {buffer, static_cast<size_t>(n)}))) {
      return;
    }
  }
  // The guest's side closed (the VM ended): an empty CONTINUE packet is the
  // end of output virsh expects; an unasked-for OK would drop the connection.
  client_.send(packet(static_cast<uint32_t>(rpc::Status::kContinue), {}));
}

bool ConsoleStream::from_client(std::span<const uint8_t> data, bool end) {
  if (end) {
    client_.send(packet(static_cast<uint32_t>(rpc::Status::kOk), {}));
    ::shutdown(fd_, SHUT_RDWR);
    return false;
  }
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace vessel::daemon

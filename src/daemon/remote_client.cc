#include "daemon/remote_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/rpc_message.h"
#include "daemon/socket_paths.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

constexpr int32_t kConnectOpen = 1, kConnectClose = 2;
constexpr int kAnswerTimeoutSeconds = 120;

Error peer_failed(const std::string& what) {
  return virt_error::make(virt_error::kRpc, "the peer daemon: " + what);
}

}  // namespace

Result<RemoteClient> RemoteClient::open(const std::string& uri) {
  TRY_ASSIGN(LocalUri local, parse_local_uri(uri));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (local.socket.size() >= sizeof address.sun_path) {
    return virt_error::make(virt_error::kInvalidArg, "socket path too long: " + local.socket);
  }
  std::memcpy(address.sun_path, local.socket.c_str(), local.socket.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return virt_error::make(virt_error::kOperationFailed,
                            "cannot connect to '" + local.socket + "': " + why);
  }
  // A peer that stops answering fails the call instead of holding the
  // caller's connection for ever.
  timeval timeout{kAnswerTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  RemoteClient client(fd);
  TRY(client.call(kConnectOpen, [&local](XdrWriter& args) {
    args.optional_string(local.name);
    args.u32(0);  // flags: read-write
  }));
  return client;
}

RemoteClient::RemoteClient(RemoteClient&& other) noexcept
    : fd_(other.fd_), next_serial_(other.next_serial_) {
  other.fd_ = -1;
}

RemoteClient::~RemoteClient() {
  if (fd_ < 0) return;
  (void)call(kConnectClose, [](XdrWriter&) {});
  ::close(fd_);
}

Result<std::vector<uint8_t>> RemoteClient::call(int32_t procedure,
                                                const std::function<void(XdrWriter&)>& args) {
  uint32_t serial = next_serial_++;
  XdrWriter writer = rpc::begin_message({rpc::kRemoteProgram, rpc::kRemoteVersion, procedure,
                                         rpc::Type::kCall, serial, rpc::Status::kOk});
  args(writer);
  std::vector<uint8_t> message = rpc::finish(writer);
  for (size_t sent = 0; sent < message.size();) {
    ssize_t n = ::send(fd_, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return peer_failed(std::string("cannot send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  // Only this call's reply is expected: the peer pushes no events to a
  // client that did not register, and pings only clients that asked.
  for (;;) {
    auto reply = rpc::read_message(fd_);
    if (!reply.ok()) {
      return peer_failed(reply.error().message() + " (or gave no answer in " +
                         std::to_string(kAnswerTimeoutSeconds) + " s)");
    }
    XdrReader reader(*reply);
    auto header = rpc::parse_header(reader);
    if (!header.ok()) return peer_failed(header.error().message());
    if (header->type != rpc::Type::kReply || header->serial != serial) continue;
    if (header->status == rpc::Status::kError) return rpc::read_error(reader);
    auto payload = reader.rest();
    return std::vector<uint8_t>(payload.begin(), payload.end());
  }
}

}  // namespace vessel::daemon

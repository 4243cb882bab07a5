#include "daemon/event_hub.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "daemon/rpc_message.h"

namespace vessel::daemon {
namespace {

constexpr int32_t kDomainEventLifecycle = 107;  // REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE

}  // namespace

bool ClientSocket::send(const std::vector<uint8_t>& message) {
  std::lock_guard lock(mutex_);
  size_t sent = 0;
  while (sent < message.size()) {
    ssize_t n = ::send(fd_, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool ClientSocket::try_send(const std::vector<uint8_t>& message) {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // a reply is being written
  int queued = 0;
  int space = 0;
  socklen_t length = sizeof space;
  ::ioctl(fd_, TIOCOUTQ, &queued);
  ::getsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &space, &length);
  if (space - queued < static_cast<int>(message.size())) return false;
  ssize_t n = ::send(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return n == static_cast<ssize_t>(message.size());
}

void EventHub::subscribe(ClientSocket* client) {
  std::lock_guard lock(mutex_);
  if (std::find(clients_.begin(), clients_.end(), client) == clients_.end()) {
    clients_.push_back(client);
  }
}

void EventHub::unsubscribe(ClientSocket* client) {
  std::lock_guard lock(mutex_);
  clients_.erase(std::remove(clients_.begin(), clients_.end(), client), clients_.end());
}

void EventHub::publish(const DomainRef& domain, LifecycleEvent event, int detail) {
  XdrWriter writer =
      rpc::begin_message({rpc::kRemoteProgram, rpc::kRemoteVersion, kDomainEventLifecycle,
                          rpc::Type::kMessage, 0, rpc::Status::kOk});
  writer.string(domain.name);
  writer.fixed_opaque(domain.uuid);
  writer.i32(domain.id);
  writer.i32(static_cast<int32_t>(event));
  writer.i32(detail);
  std::vector<uint8_t> message = rpc::finish(writer);
  std::lock_guard lock(mutex_);
  for (ClientSocket* client : clients_) client->try_send(message);
}

}  // namespace vessel::daemon

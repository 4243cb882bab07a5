// Domain lifecycle events for the clients that registered for them
// (DOMAIN_EVENT_REGISTER_ANY): the DomainManager publishes, each subscribed
// connection gets a DOMAIN_EVENT_LIFECYCLE message pushed to its socket.
// Publishing never blocks on a client: a client whose socket is full loses
// the event rather than stalling every domain operation behind it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "daemon/domain_manager.h"

namespace vessel::daemon {

// One client socket that more than one thread writes to: its connection
// thread (replies) and publishers (events). Whole messages, never interleaved.
class ClientSocket {
 public:
  explicit ClientSocket(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  // Blocks until sent; false once the client is gone.
  bool send(const std::vector<uint8_t>& message);
  // Sends only if the socket can take the whole message now.
  bool try_send(const std::vector<uint8_t>& message);

 private:
  int fd_;
  std::mutex mutex_;
};

class EventHub {
 public:
  void subscribe(ClientSocket* client);
  void unsubscribe(ClientSocket* client);
  void publish(const DomainRef& domain, LifecycleEvent event, int detail);

 private:
  std::mutex mutex_;
  std::vector<ClientSocket*> clients_;
};

}  // namespace vessel::daemon

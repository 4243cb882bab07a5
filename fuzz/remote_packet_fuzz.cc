// libFuzzer target for vesseld's side of libvirt's remote protocol: the
// input is the byte stream a client sends on the read-write socket. It is
// served by the daemon's own connection code (framing, header, the
// procedure table, argument decoding) against a DomainManager whose state
// directory is a scratch directory and whose VM program does not exist, so
// a fuzzed CONNECT_OPEN + DEFINE + CREATE defines domains but starts none.
// Storage pools are confined to the scratch directory, so fuzzed pool and
// volume calls touch no other file.
// Nothing may crash, hang or allocate without bound.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

#include "daemon/daemon_context.h"
#include "daemon/remote_connection.h"
#include "daemon/state_dir.h"

namespace {

vessel::daemon::DaemonContext& daemon() {
  static vessel::daemon::DaemonContext* context = [] {
    char dir[] = "/tmp/vesseld-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    auto state = vessel::daemon::StateDir::open(dir);
    if (!state.ok()) std::abort();
    // Pools only inside the scratch directory: fuzzed calls create and
    // delete volumes nowhere else.
    auto* storage = new vessel::daemon::StorageManager(*state, state->root());
    auto* networks = new vessel::daemon::NetworkManager(*state);
    auto* domains =
        new vessel::daemon::DomainManager(std::move(*state), "/nonexistent/vessel", *networks);
    auto* snapshots = new vessel::daemon::SnapshotManager(*domains);
    return new vessel::daemon::DaemonContext{*domains, *networks, *new vessel::daemon::EventHub,
                                             *storage, *snapshots};
  }();
  return *context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  // The client: sends the input, hangs up its sending side, reads replies.
  std::thread client([&] {
    size_t sent = 0;
    while (sent < size) {
      ssize_t n = send(fds[1], data + sent, size - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    shutdown(fds[1], SHUT_WR);
    char sink[65536];
    while (read(fds[1], sink, sizeof sink) > 0) {
    }
  });
  vessel::daemon::Session session;
  session.opened = size > 0 && data[0] & 1;  // half the inputs skip CONNECT_OPEN
  vessel::daemon::serve_connection(fds[0], daemon(), session);
  client.join();
  close(fds[1]);
  return 0;
}

// One client of the remote protocol: reads its messages, answers calls and
// keepalive pings, until the client hangs up or sends garbage it cannot
// frame. A malformed call gets an error reply; the connection only ends
// when the stream itself can no longer be trusted (a bad length).
#pragma once

#include "daemon/daemon_context.h"
#include "daemon/remote_calls.h"

namespace vessel::daemon {

// Serves `fd` (and closes it) on the calling thread.
void serve_connection(int fd, DaemonContext& daemon, Session session);

}  // namespace vessel::daemon

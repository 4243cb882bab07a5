// The procedures of libvirt's REMOTE program that Vessel answers, each
// decoding its arguments, calling the DomainManager and encoding its reply.
// Anything else gets VIR_ERR_NO_SUPPORT, which clients treat as "feature
// absent" and fall back from.
#pragma once

#include <cstdint>
#include <memory>

#include "base/result.h"
#include "daemon/console_stream.h"
#include "daemon/daemon_context.h"
#include "daemon/event_hub.h"
#include "daemon/xdr.h"

namespace vessel::daemon {

// What a connection has negotiated.
struct Session {
  bool read_only = false;                  // came in on the read-only socket, or asked for it
  bool opened = false;                     // CONNECT_OPEN succeeded
  bool close_requested = false;            // CONNECT_CLOSE: drop after the reply
  bool accept_qemu_uri = false;            // qemu:/// URIs name this daemon
  ClientSocket* socket = nullptr;          // this client, for pushed events
  uint32_t serial = 0;                     // of the call being answered
  std::shared_ptr<ConsoleStream> console;  // an open `virsh console`
};

// Runs `procedure`: decodes from `args`, encodes the reply payload into
// `reply`. A failure carries a libvirt error number (Error::code()).
Result<void> call_remote(DaemonContext& daemon, Session& session, int32_t procedure,
                         XdrReader& args, XdrWriter& reply);

}  // namespace vessel::daemon

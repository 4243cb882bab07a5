#include "daemon/remote_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <optional>
#include <vector>

#include "base/log.h"
#include "daemon/rpc_message.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

std::vector<uint8_t> error_reply(rpc::Header header, const Error& error) {
  header.type = rpc::Type::kReply;
  header.status = rpc::Status::kError;
  XdrWriter writer = rpc::begin_message(header);
  int code = error.code() != 0 ? error.code() : virt_error::kInternalError;
  int source = code == virt_error::kRpc ? virt_error::kFromRemote : virt_error::kFromQemu;
  rpc::write_error(writer, code, source, error.message());
  return rpc::finish(writer);
}

// The answer to one message, or nothing (pongs, streams not yet handled).
std::optional<std::vector<uint8_t>> answer(const rpc::Header& header, XdrReader& payload,
                                           DaemonContext& daemon, Session& session) {
  if (header.program == rpc::kKeepaliveProgram) {
    if (header.procedure != rpc::kKeepalivePing) return std::nullopt;
    rpc::Header pong{
        rpc::kKeepaliveProgram, rpc::kKeepaliveVersion, rpc::kKeepalivePong, rpc::Type::kMessage, 0,
        rpc::Status::kOk};
    XdrWriter writer = rpc::begin_message(pong);
    return rpc::finish(writer);
  }
  if (header.type == rpc::Type::kStream) {
    // The client's side of `virsh console`; packets of no open stream are
    // dropped, as libvirt drops them.
    if (session.console && header.serial == session.console->serial()) {
      bool more =
          header.status == rpc::Status::kContinue || header.status == rpc::Status::kOk
              ? session.console->from_client(payload.rest(), header.status == rpc::Status::kOk)
              : false;
      if (!more) session.console.reset();
    }
    return std::nullopt;
  }
  if (header.type != rpc::Type::kCall && header.type != rpc::Type::kCallWithFds) {
    return std::nullopt;
  }
  if (header.program != rpc::kRemoteProgram || header.version != rpc::kRemoteVersion) {
    return error_reply(header, virt_error::make(virt_error::kRpc, "unknown program or version"));
  }
  if (header.type == rpc::Type::kCallWithFds) {
    return error_reply(header,
                       virt_error::make(virt_error::kNoSupport, "passing file descriptors"));
  }
  XdrWriter writer = rpc::begin_message({header.program, header.version, header.procedure,
                                         rpc::Type::kReply, header.serial, rpc::Status::kOk});
  session.serial = header.serial;
  auto done = call_remote(daemon, session, header.procedure, payload, writer);
  if (!done.ok()) return error_reply(header, done.error());
  return rpc::finish(writer);
}

}  // namespace

void serve_connection(int fd, DaemonContext& daemon, Session session) {
  ClientSocket socket(fd);
  session.socket = &socket;
  for (;;) {
    auto message = rpc::read_message(fd);
    if (!message.ok()) {
      if (message.error().message() != rpc::kConnectionClosed) {
        LOG_WARN("client dropped: %s", message.error().message().c_str());
      }
      break;
    }
    XdrReader reader(*message);
    auto header = rpc::parse_header(reader);
    if (!header.ok()) {
      LOG_WARN("client dropped: %s", header.error().message().c_str());
      break;
    }
    auto reply = answer(*header, reader, daemon, session);
    if (reply && !socket.send(*reply)) break;
    if (session.console) session.console->start();
    if (session.close_requested) break;
  }
  session.console.reset();
  daemon.events.remove_client(&socket);
  ::close(fd);
}

}  // namespace vessel::daemon

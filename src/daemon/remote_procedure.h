// The pieces every procedure handler of the REMOTE program is made of: the
// call's context (the daemon's managers, the client's session, its decoded
// arguments and the reply being encoded) and the tables that map procedure
// numbers to handlers, one table per kind of object.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "base/result.h"
#include "daemon/daemon_context.h"
#include "daemon/remote_calls.h"
#include "daemon/rpc_message.h"
#include "daemon/virt_error.h"
#include "daemon/xdr.h"

namespace vessel::daemon {

struct Call {
  DaemonContext& daemon;
  Session& session;
  XdrReader& args;
  XdrWriter& reply;

  DomainRef domain() {
    DomainRef ref;
    ref.name = args.string(rpc::kStringMax);
    ref.uuid = args.fixed_opaque<16>();
    ref.id = args.i32();
    return ref;
  }
  void put(const DomainRef& ref) {
    reply.string(ref.name);
    reply.fixed_opaque(ref.uuid);
    reply.i32(ref.id);
  }
  std::string string() { return args.string(rpc::kStringMax); }
  // Every handler calls this once its arguments are decoded, before acting:
  // nothing is done on behalf of a malformed call.
  Result<void> end_args() {
    if (!args.done()) return virt_error::make(virt_error::kRpc, "malformed arguments");
    return Ok();
  }
};

using Handler = std::function<Result<void>(Call&)>;

struct Procedure {
  Handler handler;
  bool read_only = false;  // allowed on the read-only socket
};

using ProcedureTable = std::unordered_map<int32_t, Procedure>;

// Calls that name an object and answer one int (IS_ACTIVE, IS_PERSISTENT,
// GET_AUTOSTART): `decode` reads the reference, `query` asks its manager.
template <typename Manager, typename Ref>
Handler int_reply(Ref (*decode)(Call&), Result<bool> (Manager::*query)(const Ref&)) {
  return [decode, query](Call& c) -> Result<void> {
    Ref ref = decode(c);
    TRY(c.end_args());
    TRY_ASSIGN(bool value, (manager_of<Manager>(c.daemon).*query)(ref));
    c.reply.i32(value ? 1 : 0);
    return Ok();
  };
}

// REMOTE_LIST_MAX-style bound shared by the listing calls.
inline constexpr uint32_t kListMax = 16384;

const ProcedureTable& connection_procedures();
const ProcedureTable& domain_procedures();
const ProcedureTable& network_procedures();
const ProcedureTable& migration_procedures();
const ProcedureTable& storage_procedures();
const ProcedureTable& snapshot_procedures();
const ProcedureTable& event_procedures();

}  // namespace vessel::daemon

#include "daemon/remote_calls.h"

#include "daemon/remote_procedure.h"

namespace vessel::daemon {

Result<void> call_remote(DaemonContext& daemon, Session& session, int32_t procedure,
                         XdrReader& args, XdrWriter& reply) {
  const Procedure* found = nullptr;
  for (const ProcedureTable* table :
       {&connection_procedures(), &domain_procedures(), &network_procedures(),
        &migration_procedures(), &storage_procedures(), &snapshot_procedures(),
        &event_procedures()}) {
    auto it = table->find(procedure);
    if (it != table->end()) found = &it->second;
  }
  if (found == nullptr) {
    return virt_error::make(virt_error::kNoSupport, "procedure " + std::to_string(procedure));
  }
  constexpr int32_t kAuthList = 66, kSupportsFeature = 60, kOpen = 1;
  if (!session.opened && procedure != kAuthList && procedure != kSupportsFeature &&
      procedure != kOpen) {
    return virt_error::make(virt_error::kRpc, "connection not open");
  }
  if (session.read_only && !found->read_only) {
    return virt_error::make(virt_error::kOperationDenied,
                            "read only access prevents this operation");
  }
  Call call{daemon, session, args, reply};
  TRY(found->handler(call));
  if (!args.ok()) return virt_error::make(virt_error::kRpc, "malformed arguments");
  return Ok();
}

}  // namespace vessel::daemon

#include "daemon/peer_migration.h"

#include "daemon/remote_client.h"
#include "daemon/rpc_message.h"
#include "daemon/typed_params.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

constexpr int32_t kPrepare3Params = 303, kFinish3Params = 306;
constexpr uint32_t kCookieMax = 4194304;  // REMOTE_MIGRATE_COOKIE_MAX
constexpr unsigned kUndefineSource = 16;  // VIR_MIGRATE_UNDEFINE_SOURCE

// PREPARE3 on the destination: the URI its incoming VM listens on.
Result<std::string> prepare(RemoteClient& peer, const TypedParams& params, unsigned flags) {
  TRY_ASSIGN(std::vector<uint8_t> reply, peer.call(kPrepare3Params, [&](XdrWriter& args) {
    write_typed_params(args, params);
    args.opaque({});  // no cookie: the ends need nothing more from each other
    args.u32(flags);
  }));
  XdrReader reader(reply);
  reader.opaque(kCookieMax);
  std::optional<std::string> uri = reader.optional_string(rpc::kStringMax);
  if (!reader.ok() || !uri || uri->empty()) {
    return virt_error::make(virt_error::kRpc, "the destination named no migration URI");
  }
  return *uri;
}

// FINISH3 on the destination: the VM runs there, or (cancelled) is dropped.
Result<void> finish(RemoteClient& peer, const std::string& name, unsigned flags, bool cancelled) {
  TRY(peer.call(kFinish3Params, [&](XdrWriter& args) {
    write_typed_params(args, {{"destination_name", name}});
    args.opaque({});
    args.u32(flags);
    args.i32(cancelled ? 1 : 0);
  }));
  return Ok();
}

}  // namespace

Result<void> migrate_to_peer(DomainManager& domains, const DomainRef& ref,
                             const PeerMigration& request) {
  TRY_ASSIGN(std::string xml, domains.migrate_begin(ref));
  TRY_ASSIGN(RemoteClient peer, RemoteClient::open(request.destination_uri));
  const std::string name = request.name.empty() ? ref.name : request.name;
  TypedParams params = {{"destination_xml", xml}, {"destination_name", name}};
  if (!request.migrate_uri.empty()) params["migrate_uri"] = request.migrate_uri;
  TRY_ASSIGN(std::string uri, prepare(peer, params, request.flags));

  Result<void> performed = domains.migrate_perform(ref, uri);
  Result<void> finished = finish(peer, name, request.flags, !performed.ok());
  bool cancelled = !performed.ok() || !finished.ok();
  Result<void> confirmed = domains.migrate_confirm(ref, cancelled, request.flags & kUndefineSource);
  if (!performed.ok()) return performed;
  if (!finished.ok()) return finished;
  return confirmed;
}

}  // namespace vessel::daemon

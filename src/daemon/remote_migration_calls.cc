// virsh migrate's procedures (libvirt's version 3 migration with typed
// parameters): BEGIN3 and PERFORM3 and CONFIRM3 on the source daemon,
// PREPARE3 and FINISH3 on the destination; with --p2p, PERFORM3 alone, the
// source daemon driving the rest (peer_migration.h). Cookies are empty: the
// two ends need nothing from each other beyond the domain XML and the URI.
#include "daemon/peer_migration.h"
#include "daemon/remote_procedure.h"
#include "daemon/typed_params.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

constexpr uint32_t kCookieMax = 4194304;  // REMOTE_MIGRATE_COOKIE_MAX
// VIR_MIGRATE_*
constexpr unsigned kPeerToPeer = 2, kTunnelled = 4, kPersistDest = 8, kUndefineSource = 16;

void empty_cookie(Call& c) {
  c.reply.u32(0);
}

}  // namespace

const ProcedureTable& migration_procedures() {
  static const ProcedureTable table = {
      {302,  // DOMAIN_MIGRATE_BEGIN3_PARAMS (source)
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         read_typed_params(c.args);
         c.args.u32();
         TRY(c.end_args());
         TRY_ASSIGN(std::string xml, c.daemon.domains.migrate_begin(ref));
         empty_cookie(c);
         c.reply.string(xml);
         return Ok();
       }}},
      {303,  // DOMAIN_MIGRATE_PREPARE3_PARAMS (destination)
       {[](Call& c) -> Result<void> {
         auto params = read_typed_params(c.args);
         c.args.opaque(kCookieMax);
         c.args.u32();
         TRY(c.end_args());
         std::string xml = param(params, "destination_xml");
         if (xml.empty()) return make(virt_error::kInvalidArg, "no destination_xml parameter");
         TRY_ASSIGN(std::string uri,
                    c.daemon.domains.migrate_prepare(xml, param(params, "destination_name"),
                                                     param(params, "migrate_uri")));
         empty_cookie(c);
         c.reply.optional_string(uri);
         return Ok();
       }}},
      {305,  // DOMAIN_MIGRATE_PERFORM3_PARAMS (source)
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         std::optional<std::string> dconnuri = c.args.optional_string(rpc::kStringMax);
         auto params = read_typed_params(c.args);
         c.args.opaque(kCookieMax);
         unsigned flags = c.args.u32();
         TRY(c.end_args());
         if (flags & kTunnelled) {
           return make(virt_error::kNoSupport, "tunnelled migration (--tunnelled)");
         }
         if (flags & kPeerToPeer) {
           if (!dconnuri) return make(virt_error::kInvalidArg, "no destination URI");
           TRY(migrate_to_peer(c.daemon.domains, ref,
                               {*dconnuri, param(params, "destination_name"),
                                param(params, "migrate_uri"), flags}));
           empty_cookie(c);
           return Ok();
         }
         std::string uri = param(params, "migrate_uri");
         if (uri.empty()) return make(virt_error::kInvalidArg, "no migrate_uri parameter");
         TRY(c.daemon.domains.migrate_perform(ref, uri));
         empty_cookie(c);
         return Ok();
       }}},
      {306,  // DOMAIN_MIGRATE_FINISH3_PARAMS (destination)
       {[](Call& c) -> Result<void> {
         auto params = read_typed_params(c.args);
         c.args.opaque(kCookieMax);
         unsigned flags = c.args.u32();
         int32_t cancelled = c.args.i32();
         TRY(c.end_args());
         std::string name = param(params, "destination_name");
         if (name.empty()) return make(virt_error::kInvalidArg, "no destination_name parameter");
         TRY_ASSIGN(DomainRef ref,
                    c.daemon.domains.migrate_finish(name, cancelled != 0, flags & kPersistDest));
         c.put(ref);
         empty_cookie(c);
         return Ok();
       }}},
      {307,  // DOMAIN_MIGRATE_CONFIRM3_PARAMS (source)
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         read_typed_params(c.args);
         c.args.opaque(kCookieMax);
         unsigned flags = c.args.u32();
         int32_t cancelled = c.args.i32();
         TRY(c.end_args());
         return c.daemon.domains.migrate_confirm(ref, cancelled != 0, flags & kUndefineSource);
       }}},
  };
  return table;
}

}  // namespace vessel::daemon

// virsh migrate's procedures (libvirt's version 3 migration with typed
// parameters): BEGIN3 and PERFORM3 and CONFIRM3 on the source daemon,
// PREPARE3 and FINISH3 on the destination. Cookies are empty: the two ends
// need nothing from each other beyond the domain XML and the URI.
#include <map>

#include "daemon/remote_procedure.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

constexpr uint32_t kParamsMax = 64;                         // REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX
constexpr uint32_t kCookieMax = 4194304;                    // REMOTE_MIGRATE_COOKIE_MAX
constexpr unsigned kPersistDest = 8, kUndefineSource = 16;  // VIR_MIGRATE_*

// libvirt's typed parameters; Vessel reads the string ones and skips others.
std::map<std::string, std::string> typed_params(Call& c) {
  std::map<std::string, std::string> params;
  uint32_t count = c.args.u32();
  if (count > kParamsMax) {
    c.args.fail();
    return params;
  }
  for (uint32_t i = 0; i < count && c.args.ok(); ++i) {
    std::string field = c.args.string(rpc::kStringMax);
    switch (c.args.i32()) {
      case 1:  // INT
      case 2:  // UINT
      case 6:  // BOOLEAN
        params[field] = std::to_string(c.args.i32());
        break;
      case 3:  // LLONG
      case 4:  // ULLONG
      case 5:  // DOUBLE (8 bytes; its value is not needed)
        params[field] = std::to_string(c.args.i64());
        break;
      case 7:  // STRING
        params[field] = c.args.string(rpc::kStringMax);
        break;
      default:
        c.args.fail();
    }
  }
  return params;
}

std::string param(const std::map<std::string, std::string>& params, const char* name) {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

void empty_cookie(Call& c) {
  c.reply.u32(0);
}

}  // namespace

const ProcedureTable& migration_procedures() {
  static const ProcedureTable table = {
      {302,  // DOMAIN_MIGRATE_BEGIN3_PARAMS (source)
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         typed_params(c);
         c.args.u32();
         TRY(c.end_args());
         TRY_ASSIGN(std::string xml, c.daemon.domains.migrate_begin(ref));
         empty_cookie(c);
         c.reply.string(xml);
         return Ok();
       }}},
      {303,  // DOMAIN_MIGRATE_PREPARE3_PARAMS (destination)
       {[](Call& c) -> Result<void> {
         auto params = typed_params(c);
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
         auto params = typed_params(c);
         c.args.opaque(kCookieMax);
         c.args.u32();
         TRY(c.end_args());
         if (dconnuri) {
           return make(virt_error::kNoSupport, "peer-to-peer migration (--p2p)");
         }
         std::string uri = param(params, "migrate_uri");
         if (uri.empty()) return make(virt_error::kInvalidArg, "no migrate_uri parameter");
         TRY(c.daemon.domains.migrate_perform(ref, uri));
         empty_cookie(c);
         return Ok();
       }}},
      {306,  // DOMAIN_MIGRATE_FINISH3_PARAMS (destination)
       {[](Call& c) -> Result<void> {
         auto params = typed_params(c);
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
         typed_params(c);
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

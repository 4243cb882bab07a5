// The connection's own procedures: authentication, opening, features,
// versions, capabilities.
#include <unistd.h>

#include "base/version.h"
#include "daemon/remote_procedure.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

// Feature numbers of CONNECT_SUPPORTS_FEATURE (libvirt's
// VIR_DRV_FEATURE_*): Vessel answers keepalive pings, takes part in
// version 3 migration with typed parameters (the client then begins on the
// source before it prepares the destination) and drives one itself
// (peer-to-peer), and sends events to
// registered callbacks (remote_event_calls.cc).
constexpr int32_t kFeatureMigrationP2P = 4, kFeatureMigrationV3 = 6,
                  kFeatureMigrateChangeProtection = 7, kFeatureKeepalive = 10,
                  kFeatureMigrationParams = 13, kFeatureEventCallbacks = 14;

bool uri_is_ours(const std::string& uri, bool accept_qemu) {
  for (const char* prefix : {"vessel:///", "vessel+unix:///"}) {
    if (uri.rfind(prefix, 0) == 0) return true;
  }
  return accept_qemu && (uri.rfind("qemu:///", 0) == 0 || uri.rfind("qemu+unix:///", 0) == 0);
}

std::string capabilities_xml() {
  return "<capabilities>\n"
         "  <host>\n"
         "    <cpu>\n"
         "      <arch>x86_64</arch>\n"
         "    </cpu>\n"
         "  </host>\n"
         "  <guest>\n"
         "    <os_type>hvm</os_type>\n"
         "    <arch name='riscv64'>\n"
         "      <wordsize>64</wordsize>\n"
         "      <machine maxCpus='8'>virt</machine>\n"
         "      <domain type='qemu'/>\n"
         "    </arch>\n"
         "  </guest>\n"
         "</capabilities>\n";
}

}  // namespace

const ProcedureTable& connection_procedures() {
  static const ProcedureTable table = {
      // Connection.
      {66,  // AUTH_LIST: no authentication beyond the socket's permissions
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.u32(1);
          c.reply.i32(0);  // REMOTE_AUTH_NONE
          return Ok();
        },
        true}},
      {60,  // SUPPORTS_FEATURE
       {[](Call& c) -> Result<void> {
          int32_t feature = c.args.i32();
          TRY(c.end_args());
          bool supported = feature == kFeatureKeepalive || feature == kFeatureMigrationP2P ||
                           feature == kFeatureMigrationV3 ||
                           feature == kFeatureMigrateChangeProtection ||
                           feature == kFeatureMigrationParams || feature == kFeatureEventCallbacks;
          c.reply.i32(supported ? 1 : 0);
          return Ok();
        },
        true}},
      {1,  // CONNECT_OPEN
       {[](Call& c) -> Result<void> {
          std::optional<std::string> name = c.args.optional_string(rpc::kStringMax);
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          if (name && !name->empty() && !uri_is_ours(*name, c.session.accept_qemu_uri)) {
            return make(virt_error::kNoSupport, "this daemon serves vessel:/// URIs, not " + *name);
          }
          // VIR_CONNECT_RO: a read-write socket's client may choose read-only;
          // one on the read-only socket stays read-only whatever it asks.
          constexpr unsigned kReadOnly = 1;
          if (flags & kReadOnly) c.session.read_only = true;
          c.session.opened = true;
          return Ok();
        },
        true}},
      {2,  // CONNECT_CLOSE
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.session.close_requested = true;
          return Ok();
        },
        true}},
      {3,  // GET_TYPE
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.string("Vessel");
          return Ok();
        },
        true}},
      {4,  // GET_VERSION
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.u64(uint64_t{kVersionMajor} * 1000000 + kVersionMinor * 1000 + kVersionMicro);
          return Ok();
        },
        true}},
      {157,  // GET_LIB_VERSION
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.u64(uint64_t{kVersionMajor} * 1000000 + kVersionMinor * 1000 + kVersionMicro);
          return Ok();
        },
        true}},
      {59,  // GET_HOSTNAME
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          char host[256] = {};
          if (::gethostname(host, sizeof host - 1) != 0) {
            return make(virt_error::kSystemError, "cannot get the host name");
          }
          c.reply.string(host);
          return Ok();
        },
        true}},
      {7,  // GET_CAPABILITIES
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.string(capabilities_xml());
          return Ok();
        },
        true}},
      {5,  // GET_MAX_VCPUS
       {[](Call& c) -> Result<void> {
          c.args.optional_string(rpc::kStringMax);
          TRY(c.end_args());
          c.reply.i32(8);
          return Ok();
        },
        true}},
      {122,  // NODE_GET_SECURITY_MODEL: none; char arrays keep their NUL
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.char_array(std::string(1, '\0'));
          c.reply.char_array(std::string(1, '\0'));
          return Ok();
        },
        true}},

  };
  return table;
}

}  // namespace vessel::daemon

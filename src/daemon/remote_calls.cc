#include "daemon/remote_calls.h"

#include <unistd.h>

#include <functional>
#include <unordered_map>

#include "base/version.h"
#include "daemon/rpc_message.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

// Feature numbers of CONNECT_SUPPORTS_FEATURE (libvirt's
// VIR_DRV_FEATURE_*): Vessel answers keepalive pings.
constexpr int32_t kFeatureKeepalive = 10;

constexpr uint32_t kListMax = 16384;  // REMOTE_DOMAIN_LIST_MAX
constexpr unsigned kStartPaused = 1;  // VIR_DOMAIN_START_PAUSED
constexpr unsigned kXmlInactive = 2;  // VIR_DOMAIN_XML_INACTIVE

struct Call {
  DomainManager& manager;
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
    if (!args.done()) return make(virt_error::kRpc, "malformed arguments");
    return Ok();
  }
};

using Handler = std::function<Result<void>(Call&)>;

struct Procedure {
  Handler handler;
  bool read_only = false;  // allowed on the read-only socket
};

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

// A reply of one int (IS_ACTIVE, GET_AUTOSTART, ...).
Handler int_of_domain(Result<bool> (DomainManager::*query)(const DomainRef&)) {
  return [query](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    TRY(c.end_args());
    TRY_ASSIGN(bool value, (c.manager.*query)(ref));
    c.reply.i32(value ? 1 : 0);
    return Ok();
  };
}

// Domain actions with no reply: SHUTDOWN, DESTROY, SUSPEND, ... `flagged`
// calls carry a flags word after the domain.
Handler domain_action(Result<void> (DomainManager::*action)(const DomainRef&), bool flagged) {
  return [action, flagged](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    if (flagged) c.args.u32();
    TRY(c.end_args());
    return (c.manager.*action)(ref);
  };
}

Handler start_domain(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    unsigned flags = flagged ? c.args.u32() : 0;
    TRY(c.end_args());
    TRY_ASSIGN(DomainRef started, c.manager.start(ref, flags & kStartPaused));
    if (flagged) c.put(started);
    return Ok();
  };
}

Handler define_domain(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    std::string xml = c.string();
    if (flagged) c.args.u32();
    TRY(c.end_args());
    TRY_ASSIGN(DomainRef ref, c.manager.define(xml));
    c.put(ref);
    return Ok();
  };
}

Handler change_device(bool flagged, bool detach) {
  return [flagged, detach](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    std::string xml = c.string();
    unsigned flags = flagged ? c.args.u32() : 1;  // the old calls act on the live VM
    TRY(c.end_args());
    return c.manager.change_device(ref, xml, flags, detach);
  };
}

const std::unordered_map<int32_t, Procedure>& procedures() {
  static const std::unordered_map<int32_t, Procedure> table = {
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
          c.reply.i32(feature == kFeatureKeepalive ? 1 : 0);
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

      // Lifecycle events, pushed as DOMAIN_EVENT_LIFECYCLE messages. Other
      // event kinds may be registered for; Vessel has none of them to send.
      {167,  // DOMAIN_EVENT_REGISTER_ANY
       {[](Call& c) -> Result<void> {
          int32_t event_id = c.args.i32();
          TRY(c.end_args());
          constexpr int32_t kLifecycle = 0;
          if (event_id == kLifecycle && c.session.events && c.session.socket) {
            c.session.events->subscribe(c.session.socket);
          }
          return Ok();
        },
        true}},
      {168,  // DOMAIN_EVENT_DEREGISTER_ANY
       {[](Call& c) -> Result<void> {
          int32_t event_id = c.args.i32();
          TRY(c.end_args());
          if (event_id == 0 && c.session.events && c.session.socket) {
            c.session.events->unsubscribe(c.session.socket);
          }
          return Ok();
        },
        true}},

      // Listing and lookup.
      {273,  // LIST_ALL_DOMAINS
       {[](Call& c) -> Result<void> {
          int32_t need_results = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          std::vector<DomainRef> domains = c.manager.list(flags);
          if (domains.size() > kListMax) domains.resize(kListMax);
          // The array only when asked for; the count always.
          if (need_results) {
            c.reply.u32(static_cast<uint32_t>(domains.size()));
            for (const DomainRef& ref : domains) c.put(ref);
          } else {
            c.reply.u32(0);
          }
          c.reply.u32(static_cast<uint32_t>(domains.size()));
          return Ok();
        },
        true}},
      {51,  // NUM_OF_DOMAINS
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.i32(static_cast<int32_t>(c.manager.list(list_flags::kActive).size()));
          return Ok();
        },
        true}},
      {25,  // NUM_OF_DEFINED_DOMAINS
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.i32(static_cast<int32_t>(c.manager.list(list_flags::kInactive).size()));
          return Ok();
        },
        true}},
      {37,  // LIST_DOMAINS: ids of the active ones
       {[](Call& c) -> Result<void> {
          uint32_t max = static_cast<uint32_t>(c.args.i32());
          TRY(c.end_args());
          if (max > kListMax) return make(virt_error::kRpc, "too many domains requested");
          std::vector<DomainRef> domains = c.manager.list(list_flags::kActive);
          if (domains.size() > max) domains.resize(max);
          c.reply.u32(static_cast<uint32_t>(domains.size()));
          for (const DomainRef& ref : domains) c.reply.i32(ref.id);
          return Ok();
        },
        true}},
      {21,  // LIST_DEFINED_DOMAINS: names of the inactive ones
       {[](Call& c) -> Result<void> {
          uint32_t max = static_cast<uint32_t>(c.args.i32());
          TRY(c.end_args());
          if (max > kListMax) return make(virt_error::kRpc, "too many domains requested");
          std::vector<DomainRef> domains = c.manager.list(list_flags::kInactive);
          if (domains.size() > max) domains.resize(max);
          c.reply.u32(static_cast<uint32_t>(domains.size()));
          for (const DomainRef& ref : domains) c.reply.string(ref.name);
          return Ok();
        },
        true}},
      {23,  // LOOKUP_BY_NAME
       {[](Call& c) -> Result<void> {
          std::string name = c.string();
          TRY(c.end_args());
          TRY_ASSIGN(DomainRef ref, c.manager.lookup_by_name(name));
          c.put(ref);
          return Ok();
        },
        true}},
      {24,  // LOOKUP_BY_UUID
       {[](Call& c) -> Result<void> {
          Uuid uuid = c.args.fixed_opaque<16>();
          TRY(c.end_args());
          TRY_ASSIGN(DomainRef ref, c.manager.lookup_by_uuid(uuid));
          c.put(ref);
          return Ok();
        },
        true}},
      {22,  // LOOKUP_BY_ID
       {[](Call& c) -> Result<void> {
          int32_t id = c.args.i32();
          TRY(c.end_args());
          TRY_ASSIGN(DomainRef ref, c.manager.lookup_by_id(id));
          c.put(ref);
          return Ok();
        },
        true}},

      // Domain queries.
      {212,  // GET_STATE
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(auto state, c.manager.state(ref));
          c.reply.i32(static_cast<int32_t>(state.first));
          c.reply.i32(state.second);
          return Ok();
        },
        true}},
      {16,  // GET_INFO
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          TRY(c.end_args());
          TRY_ASSIGN(DomainInfo info, c.manager.info(ref));
          c.reply.u32(static_cast<uint32_t>(info.state));
          c.reply.u64(info.max_memory_kib);
          c.reply.u64(info.memory_kib);
          c.reply.u32(info.vcpus);
          c.reply.u64(info.cpu_time_ns);
          return Ok();
        },
        true}},
      {19,  // GET_OS_TYPE
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          TRY(c.end_args());
          TRY(c.manager.state(ref));
          c.reply.string("hvm");
          return Ok();
        },
        true}},
      {17,  // GET_MAX_MEMORY
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          TRY(c.end_args());
          TRY_ASSIGN(DomainInfo info, c.manager.info(ref));
          c.reply.u64(info.max_memory_kib);
          return Ok();
        },
        true}},
      {18,  // GET_MAX_VCPUS of a domain
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          TRY(c.end_args());
          TRY_ASSIGN(DomainInfo info, c.manager.info(ref));
          c.reply.i32(static_cast<int32_t>(info.vcpus));
          return Ok();
        },
        true}},
      {14,  // GET_XML_DESC
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string xml, c.manager.xml(ref, flags & kXmlInactive));
          c.reply.string(xml);
          return Ok();
        },
        true}},
      {150, {int_of_domain(&DomainManager::is_active), true}},
      {151, {int_of_domain(&DomainManager::is_persistent), true}},
      {15, {int_of_domain(&DomainManager::autostart), true}},
      {183,  // HAS_MANAGED_SAVE_IMAGE: Vessel keeps none yet
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY(c.manager.state(ref));
          c.reply.i32(0);
          return Ok();
        },
        true}},
      {187,  // SNAPSHOT_NUM
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY(c.manager.state(ref));
          c.reply.i32(0);
          return Ok();
        },
        true}},
      {426,  // GET_MESSAGES: none
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY(c.manager.state(ref));
          c.reply.u32(0);
          return Ok();
        },
        true}},

      // Changes.
      {11, {define_domain(false)}},
      {350, {define_domain(true)}},
      {35, {domain_action(&DomainManager::undefine, false)}},
      {231, {domain_action(&DomainManager::undefine, true)}},
      {9, {start_domain(false)}},
      {196, {start_domain(true)}},
      {10,  // CREATE_XML: a transient domain, started
       {[](Call& c) -> Result<void> {
         std::string xml = c.string();
         unsigned flags = c.args.u32();
         TRY(c.end_args());
         TRY_ASSIGN(DomainRef ref, c.manager.create_transient(xml, flags & kStartPaused));
         c.put(ref);
         return Ok();
       }}},
      {33, {domain_action(&DomainManager::shutdown, false)}},
      {258, {domain_action(&DomainManager::shutdown, true)}},
      {12, {domain_action(&DomainManager::destroy, false)}},
      {234, {domain_action(&DomainManager::destroy, true)}},
      {27, {domain_action(&DomainManager::reboot, true)}},
      {34, {domain_action(&DomainManager::suspend, false)}},
      {28, {domain_action(&DomainManager::resume, false)}},
      {29,  // SET_AUTOSTART
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         int32_t autostart = c.args.i32();
         TRY(c.end_args());
         return c.manager.set_autostart(ref, autostart != 0);
       }}},
      {8, {change_device(false, false)}},
      {160, {change_device(true, false)}},
      {13, {change_device(false, true)}},
      {161, {change_device(true, true)}},
  };
  return table;
}

}  // namespace

Result<void> call_remote(DomainManager& manager, Session& session, int32_t procedure,
                         XdrReader& args, XdrWriter& reply) {
  const auto& table = procedures();
  auto it = table.find(procedure);
  if (it == table.end()) {
    return make(virt_error::kNoSupport, "procedure " + std::to_string(procedure));
  }
  constexpr int32_t kAuthList = 66, kSupportsFeature = 60, kOpen = 1;
  if (!session.opened && procedure != kAuthList && procedure != kSupportsFeature &&
      procedure != kOpen) {
    return make(virt_error::kRpc, "connection not open");
  }
  if (session.read_only && !it->second.read_only) {
    return make(virt_error::kOperationDenied, "read only access prevents this operation");
  }
  Call call{manager, session, args, reply};
  TRY(it->second.handler(call));
  if (!args.ok()) return make(virt_error::kRpc, "malformed arguments");
  return Ok();
}

}  // namespace vessel::daemon

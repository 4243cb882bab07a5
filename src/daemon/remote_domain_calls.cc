// The procedures on domains: listing, lookup, queries and changes, each a
// call into the DomainManager.
#include "daemon/remote_procedure.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

constexpr unsigned kStartPaused = 1;  // VIR_DOMAIN_START_PAUSED
constexpr unsigned kXmlInactive = 2;  // VIR_DOMAIN_XML_INACTIVE

DomainRef domain_arg(Call& c) {
  return c.domain();
}

// Domain actions with no reply: SHUTDOWN, DESTROY, SUSPEND, ... `flagged`
// calls carry a flags word after the domain.
Handler domain_action(Result<void> (DomainManager::*action)(const DomainRef&), bool flagged) {
  return [action, flagged](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    if (flagged) c.args.u32();
    TRY(c.end_args());
    return (c.daemon.domains.*action)(ref);
  };
}

Handler start_domain(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    unsigned flags = flagged ? c.args.u32() : 0;
    TRY(c.end_args());
    TRY_ASSIGN(DomainRef started, c.daemon.domains.start(ref, flags & kStartPaused));
    if (flagged) c.put(started);
    return Ok();
  };
}

Handler define_domain(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    std::string xml = c.string();
    if (flagged) c.args.u32();
    TRY(c.end_args());
    TRY_ASSIGN(DomainRef ref, c.daemon.domains.define(xml));
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
    return c.daemon.domains.change_device(ref, xml, flags, detach);
  };
}

// SAVE / SAVE_FLAGS: the domain, the file, and (the later call) a
// replacement XML and flags. Vessel saves the VM as it is: no replacement.
Handler save_domain(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    std::string path = c.string();
    std::optional<std::string> xml =
        flagged ? c.args.optional_string(rpc::kStringMax) : std::nullopt;
    if (flagged) c.args.u32();
    TRY(c.end_args());
    if (xml) return make(virt_error::kNoSupport, "changing the domain's XML in a save image");
    return c.daemon.domains.save(ref, path);
  };
}

Handler restore_domain(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    std::string path = c.string();
    std::optional<std::string> xml =
        flagged ? c.args.optional_string(rpc::kStringMax) : std::nullopt;
    unsigned flags = flagged ? c.args.u32() : 0;
    TRY(c.end_args());
    if (xml) return make(virt_error::kNoSupport, "changing the domain's XML in a save image");
    constexpr unsigned kSavePaused = 4;  // VIR_DOMAIN_SAVE_PAUSED
    TRY(c.daemon.domains.restore(path, flags & kSavePaused));
    return Ok();
  };
}

}  // namespace

const ProcedureTable& domain_procedures() {
  static const ProcedureTable table = {
      // Listing and lookup.
      {273,  // LIST_ALL_DOMAINS
       {[](Call& c) -> Result<void> {
          int32_t need_results = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          std::vector<DomainRef> domains = c.daemon.domains.list(flags);
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
          c.reply.i32(static_cast<int32_t>(c.daemon.domains.list(list_flags::kActive).size()));
          return Ok();
        },
        true}},
      {25,  // NUM_OF_DEFINED_DOMAINS
       {[](Call& c) -> Result<void> {
          TRY(c.end_args());
          c.reply.i32(static_cast<int32_t>(c.daemon.domains.list(list_flags::kInactive).size()));
          return Ok();
        },
        true}},
      {37,  // LIST_DOMAINS: ids of the active ones
       {[](Call& c) -> Result<void> {
          uint32_t max = static_cast<uint32_t>(c.args.i32());
          TRY(c.end_args());
          if (max > kListMax) return make(virt_error::kRpc, "too many domains requested");
          std::vector<DomainRef> domains = c.daemon.domains.list(list_flags::kActive);
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
          std::vector<DomainRef> domains = c.daemon.domains.list(list_flags::kInactive);
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
          TRY_ASSIGN(DomainRef ref, c.daemon.domains.lookup_by_name(name));
          c.put(ref);
          return Ok();
        },
        true}},
      {24,  // LOOKUP_BY_UUID
       {[](Call& c) -> Result<void> {
          Uuid uuid = c.args.fixed_opaque<16>();
          TRY(c.end_args());
          TRY_ASSIGN(DomainRef ref, c.daemon.domains.lookup_by_uuid(uuid));
          c.put(ref);
          return Ok();
        },
        true}},
      {22,  // LOOKUP_BY_ID
       {[](Call& c) -> Result<void> {
          int32_t id = c.args.i32();
          TRY(c.end_args());
          TRY_ASSIGN(DomainRef ref, c.daemon.domains.lookup_by_id(id));
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
          TRY_ASSIGN(auto state, c.daemon.domains.state(ref));
          c.reply.i32(static_cast<int32_t>(state.first));
          c.reply.i32(state.second);
          return Ok();
        },
        true}},
      {16,  // GET_INFO
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          TRY(c.end_args());
          TRY_ASSIGN(DomainInfo info, c.daemon.domains.info(ref));
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
          TRY(c.daemon.domains.state(ref));
          c.reply.string("hvm");
          return Ok();
        },
        true}},
      {17,  // GET_MAX_MEMORY
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          TRY(c.end_args());
          TRY_ASSIGN(DomainInfo info, c.daemon.domains.info(ref));
          c.reply.u64(info.max_memory_kib);
          return Ok();
        },
        true}},
      {18,  // GET_MAX_VCPUS of a domain
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          TRY(c.end_args());
          TRY_ASSIGN(DomainInfo info, c.daemon.domains.info(ref));
          c.reply.i32(static_cast<int32_t>(info.vcpus));
          return Ok();
        },
        true}},
      {14,  // GET_XML_DESC
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string xml, c.daemon.domains.xml(ref, flags & kXmlInactive));
          c.reply.string(xml);
          return Ok();
        },
        true}},
      {150, {int_reply(domain_arg, &DomainManager::is_active), true}},
      {151, {int_reply(domain_arg, &DomainManager::is_persistent), true}},
      {15, {int_reply(domain_arg, &DomainManager::autostart), true}},
      {183,  // HAS_MANAGED_SAVE_IMAGE
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(bool saved, c.daemon.domains.has_managed_save(ref));
          c.reply.i32(saved ? 1 : 0);
          return Ok();
        },
        true}},
      {426,  // GET_MESSAGES: none
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY(c.daemon.domains.state(ref));
          c.reply.u32(0);
          return Ok();
        },
        true}},

      // Changes.
      {11, {define_domain(false)}},
      {350, {define_domain(true)}},
      {9, {start_domain(false)}},
      {196, {start_domain(true)}},
      {10,  // CREATE_XML: a transient domain, started
       {[](Call& c) -> Result<void> {
         std::string xml = c.string();
         unsigned flags = c.args.u32();
         TRY(c.end_args());
         TRY_ASSIGN(DomainRef ref, c.daemon.domains.create_transient(xml, flags & kStartPaused));
         c.put(ref);
         return Ok();
       }}},
      {55, {save_domain(false)}},
      {232, {save_domain(true)}},
      {54, {restore_domain(false)}},
      {233, {restore_domain(true)}},
      {182, {domain_action(&DomainManager::managed_save, true)}},
      {184, {domain_action(&DomainManager::remove_managed_save, true)}},
      {201,  // DOMAIN_OPEN_CONSOLE: the serial console as a stream
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         std::optional<std::string> device = c.args.optional_string(rpc::kStringMax);
         c.args.u32();
         TRY(c.end_args());
         if (device && *device != "serial0" && *device != "console0") {
           return make(virt_error::kOperationFailed, "cannot find character device " + *device);
         }
         if (c.session.console) {
           return make(virt_error::kOperationInvalid,
                       "a console is already open on this connection");
         }
         TRY_ASSIGN(std::string path, c.daemon.domains.console_socket(ref));
         auto stream = ConsoleStream::open(path, *c.session.socket, 201, c.session.serial);
         if (!stream.ok()) return make(virt_error::kOperationFailed, stream.error().message());
         c.session.console = std::move(*stream);
         return Ok();
       }}},
      {33, {domain_action(&DomainManager::shutdown, false)}},
      {258, {domain_action(&DomainManager::shutdown, true)}},
      {12, {domain_action(&DomainManager::destroy, false)}},
      {234, {domain_action(&DomainManager::destroy, true)}},
      {27, {domain_action(&DomainManager::reboot, true)}},
      {245, {domain_action(&DomainManager::reset, true)}},  // RESET: in place, no power-off
      {34, {domain_action(&DomainManager::suspend, false)}},
      {28, {domain_action(&DomainManager::resume, false)}},
      {29,  // SET_AUTOSTART
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         int32_t autostart = c.args.i32();
         TRY(c.end_args());
         return c.daemon.domains.set_autostart(ref, autostart != 0);
       }}},
      {8, {change_device(false, false)}},
      {160, {change_device(true, false)}},
      {13, {change_device(false, true)}},
      {161, {change_device(true, true)}},
  };
  return table;
}

}  // namespace vessel::daemon

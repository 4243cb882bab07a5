// The procedures on virtual networks (virsh net-*), each a call into the
// NetworkManager.
#include "daemon/remote_procedure.h"

namespace vessel::daemon {
namespace {

NetworkRef network(Call& c) {
  NetworkRef ref;
  ref.name = c.args.string(rpc::kStringMax);
  ref.uuid = c.args.fixed_opaque<16>();
  return ref;
}

void put(Call& c, const NetworkRef& ref) {
  c.reply.string(ref.name);
  c.reply.fixed_opaque(ref.uuid);
}

Handler network_action(Result<void> (NetworkManager::*action)(const NetworkRef&)) {
  return [action](Call& c) -> Result<void> {
    NetworkRef ref = network(c);
    TRY(c.end_args());
    return (c.daemon.networks.*action)(ref);
  };
}

// DEFINE_XML / CREATE_XML, with or without their later flags word.
Handler from_xml(Result<NetworkRef> (NetworkManager::*make_network)(const std::string&),
                 bool flagged) {
  return [make_network, flagged](Call& c) -> Result<void> {
    std::string xml = c.string();
    if (flagged) c.args.u32();
    TRY(c.end_args());
    TRY_ASSIGN(NetworkRef ref, (c.daemon.networks.*make_network)(xml));
    put(c, ref);
    return Ok();
  };
}

// The old listing calls: a count, or up to `max` names.
Handler count_of(unsigned flags) {
  return [flags](Call& c) -> Result<void> {
    TRY(c.end_args());
    c.reply.i32(static_cast<int32_t>(c.daemon.networks.list(flags).size()));
    return Ok();
  };
}

Handler names_of(unsigned flags) {
  return [flags](Call& c) -> Result<void> {
    uint32_t max = static_cast<uint32_t>(c.args.i32());
    TRY(c.end_args());
    if (max > kListMax) return virt_error::make(virt_error::kRpc, "too many networks requested");
    std::vector<NetworkRef> networks = c.daemon.networks.list(flags);
    if (networks.size() > max) networks.resize(max);
    c.reply.u32(static_cast<uint32_t>(networks.size()));
    for (const NetworkRef& ref : networks) c.reply.string(ref.name);
    return Ok();
  };
}

}  // namespace

const ProcedureTable& network_procedures() {
  using namespace network_list_flags;
  static const ProcedureTable table = {
      {283,  // CONNECT_LIST_ALL_NETWORKS
       {[](Call& c) -> Result<void> {
          int32_t need_results = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          std::vector<NetworkRef> networks = c.daemon.networks.list(flags);
          if (networks.size() > kListMax) networks.resize(kListMax);
          c.reply.u32(need_results ? static_cast<uint32_t>(networks.size()) : 0);
          if (need_results) {
            for (const NetworkRef& ref : networks) put(c, ref);
          }
          c.reply.u32(static_cast<uint32_t>(networks.size()));
          return Ok();
        },
        true}},
      {52, {count_of(kActive), true}},    // NUM_OF_NETWORKS
      {50, {count_of(kInactive), true}},  // NUM_OF_DEFINED_NETWORKS
      {38, {names_of(kActive), true}},    // LIST_NETWORKS
      {36, {names_of(kInactive), true}},  // LIST_DEFINED_NETWORKS
      {46,                                // NETWORK_LOOKUP_BY_NAME
       {[](Call& c) -> Result<void> {
          std::string name = c.string();
          TRY(c.end_args());
          TRY_ASSIGN(NetworkRef ref, c.daemon.networks.lookup_by_name(name));
          put(c, ref);
          return Ok();
        },
        true}},
      {47,  // NETWORK_LOOKUP_BY_UUID
       {[](Call& c) -> Result<void> {
          Uuid uuid = c.args.fixed_opaque<16>();
          TRY(c.end_args());
          TRY_ASSIGN(NetworkRef ref, c.daemon.networks.lookup_by_uuid(uuid));
          put(c, ref);
          return Ok();
        },
        true}},
      {43,  // NETWORK_GET_XML_DESC
       {[](Call& c) -> Result<void> {
          NetworkRef ref = network(c);
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string xml, c.daemon.networks.xml(ref));
          c.reply.string(xml);
          return Ok();
        },
        true}},
      {45,  // NETWORK_GET_BRIDGE_NAME
       {[](Call& c) -> Result<void> {
          NetworkRef ref = network(c);
          TRY(c.end_args());
          TRY_ASSIGN(std::string bridge, c.daemon.networks.bridge_name(ref));
          c.reply.string(bridge);
          return Ok();
        },
        true}},
      {152, {int_reply(network, &NetworkManager::is_active), true}},
      {153, {int_reply(network, &NetworkManager::is_persistent), true}},
      {44, {int_reply(network, &NetworkManager::autostart), true}},
      {48,  // NETWORK_SET_AUTOSTART
       {[](Call& c) -> Result<void> {
         NetworkRef ref = network(c);
         int32_t autostart = c.args.i32();
         TRY(c.end_args());
         return c.daemon.networks.set_autostart(ref, autostart != 0);
       }}},
      {41, {from_xml(&NetworkManager::define, false)}},
      {432, {from_xml(&NetworkManager::define, true)}},
      {40, {from_xml(&NetworkManager::create_transient, false)}},
      {437, {from_xml(&NetworkManager::create_transient, true)}},
      {39, {network_action(&NetworkManager::start)}},
      {42, {network_action(&NetworkManager::destroy)}},
      {49, {network_action(&NetworkManager::undefine)}},
  };
  return table;
}

}  // namespace vessel::daemon

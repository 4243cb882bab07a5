// Registering for events (event_hub.h): the callback registrations of
// domains, networks and storage pools, and the older domain-only one.
// Registering changes nothing, so read-only clients may do it too.
#include "daemon/remote_procedure.h"

namespace vessel::daemon {
namespace {

// The UUID of an optional object argument (remote_domain, remote_network,
// remote_storage_pool): a name, a UUID, and for a domain its id.
std::optional<Uuid> optional_object(Call& c, bool has_id) {
  if (!c.args.boolean()) return std::nullopt;
  c.string();
  Uuid uuid = c.args.fixed_opaque<16>();
  if (has_id) c.args.i32();
  return uuid;
}

Handler register_callback(EventFamily family) {
  return [family](Call& c) -> Result<void> {
    int32_t event_id = c.args.i32();
    std::optional<Uuid> object = optional_object(c, family == EventFamily::kDomain);
    TRY(c.end_args());
    if (!c.session.socket) return virt_error::make(virt_error::kInternalError, "no client socket");
    TRY_ASSIGN(int32_t callback_id,
               c.daemon.events.add_callback(c.session.socket, family, event_id, object));
    c.reply.i32(callback_id);
    return Ok();
  };
}

Handler deregister_callback(EventFamily family) {
  return [family](Call& c) -> Result<void> {
    int32_t callback_id = c.args.i32();
    TRY(c.end_args());
    return c.daemon.events.remove_callback(c.session.socket, family, callback_id);
  };
}

}  // namespace

const ProcedureTable& event_procedures() {
  static const ProcedureTable table = {
      // CONNECT_DOMAIN_EVENT_CALLBACK_(DE)REGISTER_ANY
      {316, {register_callback(EventFamily::kDomain), true}},
      {317, {deregister_callback(EventFamily::kDomain), true}},
      // CONNECT_NETWORK_EVENT_(DE)REGISTER_ANY
      {313, {register_callback(EventFamily::kNetwork), true}},
      {314, {deregister_callback(EventFamily::kNetwork), true}},
      // CONNECT_STORAGE_POOL_EVENT_(DE)REGISTER_ANY
      {368, {register_callback(EventFamily::kStoragePool), true}},
      {369, {deregister_callback(EventFamily::kStoragePool), true}},

      // The older API, for clients that do not use callbacks.
      {167,  // DOMAIN_EVENT_REGISTER_ANY
       {[](Call& c) -> Result<void> {
          int32_t event_id = c.args.i32();
          TRY(c.end_args());
          if (!c.session.socket) return Ok();
          return c.daemon.events.add_domain_listener(c.session.socket, event_id);
        },
        true}},
      {168,  // DOMAIN_EVENT_DEREGISTER_ANY
       {[](Call& c) -> Result<void> {
          int32_t event_id = c.args.i32();
          TRY(c.end_args());
          if (c.session.socket) c.daemon.events.remove_domain_listener(c.session.socket, event_id);
          return Ok();
        },
        true}},
  };
  return table;
}

}  // namespace vessel::daemon

#include "daemon/network_manager.h"

#include <unistd.h>

#include "base/log.h"
#include "daemon/object_identity.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

// Written once a state directory has had its default network, so that a
// user's `net-undefine default` is not undone by the next start.
constexpr const char* kSeededMark = "/networks/autostart/.default-seeded";

}  // namespace

void NetworkManager::set_event_listener(EventListener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void NetworkManager::emit(const Network& network, NetworkEvent event) {
  if (listener_) listener_(ref_of(network), event);
}

Result<NetworkManager::Network*> NetworkManager::find(const NetworkRef& ref) {
  for (auto& [name, network] : networks_) {
    if (network.def.uuid == ref.uuid) return &network;
  }
  return make(virt_error::kNoNetwork,
              "no network with matching uuid '" + format_uuid(ref.uuid) + "' (" + ref.name + ")");
}

std::vector<NetworkRef> NetworkManager::list(unsigned flags) {
  using namespace network_list_flags;
  std::lock_guard lock(mutex_);
  std::vector<NetworkRef> out;
  auto pass = [&](unsigned yes, unsigned no, bool value) {
    return (flags & (yes | no)) == 0 || (value ? flags & yes : flags & no);
  };
  for (const auto& [name, network] : networks_) {
    if (pass(kActive, kInactive, network.active) &&
        pass(kPersistent, kTransient, network.persistent) &&
        pass(kAutostart, kNoAutostart, network.autostart)) {
      out.push_back(ref_of(network));
    }
  }
  return out;
}

Result<NetworkRef> NetworkManager::lookup_by_name(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = networks_.find(name);
  if (it == networks_.end()) {
    return make(virt_error::kNoNetwork, "no network with matching name '" + name + "'");
  }
  return ref_of(it->second);
}

Result<NetworkRef> NetworkManager::lookup_by_uuid(const Uuid& uuid) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find({"", uuid}));
  return ref_of(*network);
}

Result<void> NetworkManager::check_unique(const NetworkDef& def, bool may_replace_inactive) {
  TRY(check_identity("network", def.name, def.uuid, networks_,
                     [](const Network& network) { return network.def.uuid; }));
  auto same = networks_.find(def.name);
  if (same != networks_.end() && same->second.active && !may_replace_inactive) {
    return make(virt_error::kOperationInvalid, "network '" + def.name + "' is already active");
  }
  return Ok();
}

Result<NetworkRef> NetworkManager::define(const std::string& xml) {
  TRY_ASSIGN(NetworkDef def, parse_network_xml(xml));
  std::lock_guard lock(mutex_);
  TRY(check_unique(def, true));
  TRY(write_file_atomically(dir_.network_definition(def.name), format_network_xml(def)));
  Network& network = networks_[def.name];
  network.def = std::move(def);  // an active network takes it at its next start
  network.persistent = true;
  emit(network, NetworkEvent::kDefined);
  return ref_of(network);
}

Result<void> NetworkManager::activate(Network& network) {
  if (network.def.mode == NetworkDef::Mode::kBridge &&
      ::access(("/sys/class/net/" + network.def.bridge + "/bridge").c_str(), F_OK) != 0) {
    return make(virt_error::kOperationFailed,
                "bridge '" + network.def.bridge + "' is not a bridge on this host");
  }
  TRY(write_file_atomically(dir_.active_network(network.def.name),
                            format_network_xml(network.def)));
  network.active = true;
  emit(network, NetworkEvent::kStarted);
  return Ok();
}

Result<NetworkRef> NetworkManager::create_transient(const std::string& xml) {
  TRY_ASSIGN(NetworkDef def, parse_network_xml(xml));
  std::lock_guard lock(mutex_);
  TRY(check_unique(def, false));
  bool is_new = networks_.count(def.name) == 0;
  Network& network = networks_[def.name];
  if (is_new) network.def = def;
  if (auto started = activate(network); !started.ok()) {
    if (is_new) networks_.erase(def.name);
    return started.error();
  }
  return ref_of(network);
}

Result<void> NetworkManager::start(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  if (network->active) return make(virt_error::kOperationInvalid, "network is already active");
  return activate(*network);
}

Result<void> NetworkManager::destroy(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  if (!network->active) {
    return make(virt_error::kOperationInvalid, "network '" + network->def.name + "' is not active");
  }
  // VMs already on it keep their NICs (their backends are their own); new
  // starts on it are refused.
  TRY(remove_file_durably(dir_.active_network(network->def.name)));
  network->active = false;
  emit(*network, NetworkEvent::kStopped);
  if (!network->persistent) networks_.erase(network->def.name);
  return Ok();
}

Result<void> NetworkManager::undefine(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  if (!network->persistent) {
    return make(virt_error::kOperationInvalid, "cannot undefine transient network");
  }
  const std::string name = network->def.name;
  TRY(remove_file_durably(dir_.network_definition(name)));
  TRY(remove_file_durably(dir_.network_autostart_mark(name)));
  network->persistent = false;
  network->autostart = false;
  emit(*network, NetworkEvent::kUndefined);
  if (!network->active) networks_.erase(name);
  return Ok();
}

Result<std::string> NetworkManager::xml(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  return format_network_xml(network->def);
}

Result<std::string> NetworkManager::bridge_name(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  if (network->def.bridge.empty()) {
    return make(virt_error::kOperationInvalid,
                "network '" + network->def.name + "' does not have a bridge name");
  }
  return network->def.bridge;
}

Result<bool> NetworkManager::is_active(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  return network->active;
}

Result<bool> NetworkManager::is_persistent(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  return network->persistent;
}

Result<bool> NetworkManager::autostart(const NetworkRef& ref) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  return network->autostart;
}

Result<void> NetworkManager::set_autostart(const NetworkRef& ref, bool autostart) {
  std::lock_guard lock(mutex_);
  TRY_ASSIGN(Network * network, find(ref));
  if (!network->persistent) {
    return make(virt_error::kOperationInvalid, "cannot set autostart for transient network");
  }
  const std::string mark = dir_.network_autostart_mark(network->def.name);
  TRY(autostart ? write_file_atomically(mark, "") : remove_file_durably(mark));
  network->autostart = autostart;
  return Ok();
}

Result<std::string> NetworkManager::nic_for(const std::string& name, const std::string& mac) {
  std::lock_guard lock(mutex_);
  auto it = networks_.find(name);
  if (it == networks_.end()) {
    return make(virt_error::kNoNetwork, "no network with matching name '" + name + "'");
  }
  if (!it->second.active) {
    return make(virt_error::kOperationInvalid, "network '" + name + "' is not active");
  }
  return nic_option(it->second.def, mac);
}

void NetworkManager::recover() {
  std::lock_guard lock(mutex_);
  auto load = [](const std::string& path) -> Result<NetworkDef> {
    TRY_ASSIGN(std::string text, read_whole_file(path));
    return parse_network_xml(text);
  };
  for (const std::string& name : dir_.network_names()) {
    auto def = load(dir_.network_definition(name));
    if (!def.ok() || def->name != name) {
      LOG_ERROR("%s: %s", dir_.network_definition(name).c_str(),
                def.ok() ? "names another network" : def.error().message().c_str());
      continue;
    }
    Network& network = networks_[name];
    network.def = std::move(*def);
    network.persistent = true;
    network.autostart = ::access(dir_.network_autostart_mark(name).c_str(), F_OK) == 0;
  }
  for (const std::string& name : dir_.active_network_names()) {
    auto def = load(dir_.active_network(name));
    if (!def.ok()) continue;
    Network& network = networks_[name];
    if (!network.persistent) network.def = std::move(*def);
    network.active = true;
  }
  const std::string seeded = dir_.root() + kSeededMark;
  if (::access(seeded.c_str(), F_OK) != 0 && networks_.count("default") == 0) {
    NetworkDef def = default_network();
    Network& network = networks_[def.name];
    network.def = def;
    network.persistent = true;
    network.autostart = true;
    auto saved = write_file_atomically(dir_.network_definition(def.name), format_network_xml(def));
    if (saved.ok()) saved = write_file_atomically(dir_.network_autostart_mark(def.name), "");
    if (!saved.ok()) LOG_ERROR("%s", saved.error().message().c_str());
  }
  (void)write_file_atomically(seeded, "");
  for (auto& [name, network] : networks_) {
    if (network.autostart && !network.active) {
      if (auto started = activate(network); !started.ok()) {
        LOG_ERROR("network '%s': %s", name.c_str(), started.error().message().c_str());
      }
    }
  }
}

}  // namespace vessel::daemon

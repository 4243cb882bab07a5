// A domain definition: what libvirt's domain XML says about one VM, reduced
// to what Vessel honours. Parsed from and written back as libvirt's XML
// (domain_xml.h); turned into a `vessel run` command line by vm_process.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vessel::daemon {

using Uuid = std::array<uint8_t, 16>;

std::string format_uuid(const Uuid& uuid);
std::optional<Uuid> parse_uuid(const std::string& text);
Uuid random_uuid();

struct DiskDef {
  std::string path;
  std::string format = "raw";  // libvirt: a disk without <driver type> is raw
  std::string target;          // vda, vdb, ...
  bool readonly = false;
};

struct InterfaceDef {
  enum class Type { kUser, kNetwork, kBridge };
  Type type = Type::kUser;
  std::string source;  // the network's or the bridge's name
  std::string mac;
};

enum class LifecycleAction { kDestroy, kRestart, kPreserve };

struct DomainDef {
  std::string name;
  Uuid uuid{};
  uint64_t memory_kib = 0;
  uint64_t current_memory_kib = 0;
  uint32_t vcpus = 1;
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  std::string loader;
  std::vector<DiskDef> disks;
  std::vector<InterfaceDef> interfaces;
  bool console = false;  // a <serial>/<console> of type pty
  LifecycleAction on_poweroff = LifecycleAction::kDestroy;
  LifecycleAction on_reboot = LifecycleAction::kRestart;
  LifecycleAction on_crash = LifecycleAction::kDestroy;
  // Elements Vessel accepts without acting on them (PCI controllers that
  // virt-install always adds, the memory balloon, <clock offset='utc'>),
  // kept verbatim so the XML a client gets back still holds them.
  std::vector<std::string> kept_devices;
  std::vector<std::string> kept_elements;
};

}  // namespace vessel::daemon

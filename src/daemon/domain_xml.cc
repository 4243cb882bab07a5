#include "daemon/domain_xml.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <pugixml.hpp>
#include <random>
#include <set>
#include <sstream>

#include "daemon/virt_error.h"
#include "daemon/xml_util.h"

namespace vessel::daemon {
namespace {

using virt_error::kConfigUnsupported;
using virt_error::kXmlError;

// What `vessel run` can give a VM (see docs/vessel-run.md).
constexpr uint64_t kMinMemoryKib = 2 * 1024;
constexpr uint64_t kMaxMemoryKib = 16 * 1024 * 1024;
constexpr uint32_t kMaxVcpus = 8;
constexpr size_t kMaxDisksAndNics = 7;  // eight virtio-mmio slots, one for the entropy source

Error xml_error(const std::string& detail) {
  return virt_error::make(kXmlError, detail);
}
Error unsupported(const std::string& detail) {
  return virt_error::make(kConfigUnsupported, detail);
}

std::string serialize(const pugi::xml_node& node) {
  std::ostringstream out;
  node.print(out, "", pugi::format_raw | pugi::format_attribute_single_quote);
  return out.str();
}

Result<uint64_t> parse_number(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 19 || !std::all_of(text.begin(), text.end(), ::isdigit)) {
    return xml_error("invalid value '" + text + "' for " + what);
  }
  return std::stoull(text);
}

// <memory unit='...'>N</memory>, in KiB (rounded up); libvirt's units, KiB
// by default.
Result<uint64_t> parse_memory(const pugi::xml_node& node) {
  TRY_ASSIGN(uint64_t bytes, parse_scaled_bytes(node, "KiB"));
  return bytes / 1024 + (bytes % 1024 != 0);
}

Result<LifecycleAction> parse_action(const pugi::xml_node& node) {
  const std::string value = xml_text(node);
  if (value == "destroy") return LifecycleAction::kDestroy;
  if (value == "restart") return LifecycleAction::kRestart;
  if (value == "preserve") return LifecycleAction::kPreserve;
  return unsupported("<" + std::string(node.name()) + ">" + value + "</" + node.name() +
                     "> is not supported (destroy, restart or preserve)");
}

const char* action_name(LifecycleAction action) {
  switch (action) {
    case LifecycleAction::kDestroy:
      return "destroy";
    case LifecycleAction::kRestart:
      return "restart";
    case LifecycleAction::kPreserve:
      return "preserve";
  }
  return "destroy";
}

std::string random_mac() {
  std::random_device source;
  char mac[18];
  std::snprintf(mac, sizeof mac, "52:54:00:%02x:%02x:%02x", source() & 0xff, source() & 0xff,
                source() & 0xff);
  return mac;
}

bool valid_mac(const std::string& mac) {
  unsigned bytes[6];
  char end;
  return mac.size() == 17 &&
         std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &bytes[0], &bytes[1], &bytes[2],
                     &bytes[3], &bytes[4], &bytes[5], &end) == 6 &&
         (bytes[0] & 1) == 0;  // not a multicast address
}

Result<DiskDef> parse_disk(const pugi::xml_node& node) {
  TRY(only_children(
      node, {"driver", "source", "target", "readonly", "address", "alias", "boot", "serial"}));
  std::string type = node.attribute("type").as_string("file");
  if (type != "file") return unsupported("disk type '" + type + "' (only 'file')");
  std::string device = node.attribute("device").as_string("disk");
  if (device != "disk") return unsupported("disk device '" + device + "' (only 'disk')");
  DiskDef disk;
  if (pugi::xml_node driver = node.child("driver")) {
    std::string name = driver.attribute("name").as_string("qemu");
    if (name != "qemu") return unsupported("disk driver name '" + name + "' (only 'qemu')");
    disk.format = driver.attribute("type").as_string("raw");
    if (disk.format != "raw" && disk.format != "qcow2") {
      return unsupported("disk format '" + disk.format + "' (raw or qcow2)");
    }
  }
  disk.path = node.child("source").attribute("file").as_string();
  if (disk.path.empty() || disk.path[0] != '/') {
    return xml_error("a disk needs <source file='...'/> with an absolute path");
  }
  pugi::xml_node target = node.child("target");
  // The bus first: a client that picked IDE or SATA (virt-install does on a
  // URI it does not know as qemu's) learns what to change.
  std::string bus = target.attribute("bus").as_string("virtio");
  if (bus != "virtio") return unsupported("disk bus '" + bus + "' (only 'virtio')");
  disk.target = target.attribute("dev").as_string();
  if (disk.target.size() < 3 || disk.target.compare(0, 2, "vd") != 0 ||
      !std::all_of(disk.target.begin() + 2, disk.target.end(), ::islower)) {
    return xml_error("disk <target dev='" + disk.target +
                     "'> must name a virtio disk (vda, vdb...)");
  }
  disk.readonly = static_cast<bool>(node.child("readonly"));
  return disk;
}

Result<InterfaceDef> parse_interface(const pugi::xml_node& node) {
  TRY(only_children(node, {"mac", "source", "model", "address", "alias", "target"}));
  InterfaceDef nic;
  std::string type = node.attribute("type").as_string();
  if (type == "user") {
    nic.type = InterfaceDef::Type::kUser;
  } else if (type == "network") {
    nic.type = InterfaceDef::Type::kNetwork;
    nic.source = node.child("source").attribute("network").as_string();
    if (nic.source.empty())
      return xml_error("interface of type 'network' needs <source network=...>");
  } else if (type == "bridge") {
    nic.type = InterfaceDef::Type::kBridge;
    nic.source = node.child("source").attribute("bridge").as_string();
    if (nic.source.empty())
      return xml_error("interface of type 'bridge' needs <source bridge=...>");
  } else {
    return unsupported("interface type '" + type + "' (user, network or bridge)");
  }
  if (pugi::xml_node model = node.child("model")) {
    std::string name = model.attribute("type").as_string();
    if (name != "virtio") return unsupported("interface model '" + name + "' (only 'virtio')");
  }
  nic.mac = node.child("mac").attribute("address").as_string();
  if (nic.mac.empty()) {
    nic.mac = random_mac();
  } else {
    std::transform(nic.mac.begin(), nic.mac.end(), nic.mac.begin(), ::tolower);
    if (!valid_mac(nic.mac)) return xml_error("invalid MAC address '" + nic.mac + "'");
  }
  return nic;
}

Result<void> parse_character_device(const pugi::xml_node& node, DomainDef& def) {
  std::string type = node.attribute("type").as_string();
  if (type != "pty") {
    return unsupported("<" + std::string(node.name()) + " type='" + type + "'> (only 'pty')");
  }
  def.console = true;
  return Ok();
}

// Elements accepted and kept, though they change nothing: virt-install's
// PCI controllers (Vessel's virtio devices sit on virtio-mmio), a balloon,
// the entropy source the board always has, a guest agent channel.
bool kept_device(const pugi::xml_node& node) {
  static const std::set<std::string> kKept = {"controller", "memballoon", "rng", "channel",
                                              "input"};
  return kKept.count(node.name()) != 0;
}

Result<void> add_device(DomainDef& def, const pugi::xml_node& node) {
  const std::string name = node.name();
  if (name == "disk") {
    TRY_ASSIGN(DiskDef disk, parse_disk(node));
    for (const DiskDef& other : def.disks) {
      if (other.target == disk.target)
        return xml_error("target '" + disk.target + "' duplicated for disk sources");
    }
    def.disks.push_back(std::move(disk));
    std::sort(def.disks.begin(), def.disks.end(), [](const DiskDef& a, const DiskDef& b) {
      return a.target.size() != b.target.size() ? a.target.size() < b.target.size()
                                                : a.target < b.target;
    });
  } else if (name == "interface") {
    TRY_ASSIGN(InterfaceDef nic, parse_interface(node));
    def.interfaces.push_back(std::move(nic));
  } else if (name == "serial" || name == "console") {
    TRY(parse_character_device(node, def));
  } else if (name == "emulator") {
    // The daemon runs its own `vessel`; a path here changes nothing.
  } else if (kept_device(node)) {
    def.kept_devices.push_back(serialize(node));
  } else {
    return unsupported("device <" + name + "> is not supported by Vessel");
  }
  if (def.disks.size() + def.interfaces.size() > kMaxDisksAndNics) {
    return unsupported("more than " + std::to_string(kMaxDisksAndNics) + " disks and interfaces");
  }
  return Ok();
}

Result<void> parse_os(const pugi::xml_node& os, DomainDef& def) {
  TRY(only_children(os, {"type", "kernel", "initrd", "cmdline", "loader", "boot", "nvram"}));
  pugi::xml_node type = os.child("type");
  if (xml_text(type) != "hvm") return unsupported("os type '" + xml_text(type) + "' (only 'hvm')");
  std::string arch = type.attribute("arch").as_string("riscv64");
  if (arch != "riscv64") return unsupported("architecture '" + arch + "' (only 'riscv64')");
  std::string machine = type.attribute("machine").as_string("virt");
  if (machine != "virt") return unsupported("machine type '" + machine + "' (only 'virt')");
  def.kernel = xml_text(os.child("kernel"));
  def.initrd = xml_text(os.child("initrd"));
  def.cmdline = xml_text(os.child("cmdline"));
  def.loader = xml_text(os.child("loader"));
  for (const auto& [element, path] :
       {std::pair{"kernel", def.kernel}, {"initrd", def.initrd}, {"loader", def.loader}}) {
    if (!path.empty() && path[0] != '/') {
      return xml_error(std::string("<") + element + "> needs an absolute path, not '" + path + "'");
    }
  }
  if (def.kernel.empty() && def.loader.empty()) {
    return unsupported("a domain needs <kernel> or <loader> in <os>: Vessel has no boot from disk");
  }
  if (!def.initrd.empty() && def.kernel.empty()) return xml_error("<initrd> needs <kernel>");
  return Ok();
}

Result<void> parse_domain_node(const pugi::xml_node& root, DomainDef& def) {
  std::string type = root.attribute("type").as_string();
  if (type == "kvm") {
    return unsupported(
        "domain type 'kvm' needs a hardware accelerator for riscv64 guests, which this host does "
        "not have; use type='qemu'");
  }
  if (type != "qemu") return unsupported("domain type '" + type + "' (only 'qemu')");
  bool have_memory = false;
  for (const pugi::xml_node& child : root.children()) {
    if (child.type() != pugi::node_element) continue;
    const std::string name = child.name();
    if (name == "name") {
      def.name = xml_text(child);
    } else if (name == "uuid") {
      auto uuid = parse_uuid(xml_text(child));
      if (!uuid) return xml_error("malformed uuid element");
      def.uuid = *uuid;
    } else if (name == "memory") {
      TRY_ASSIGN(def.memory_kib, parse_memory(child));
      have_memory = true;
    } else if (name == "currentMemory") {
      TRY_ASSIGN(def.current_memory_kib, parse_memory(child));
    } else if (name == "vcpu") {
      TRY_ASSIGN(uint64_t vcpus, parse_number(xml_text(child), "<vcpu>"));
      if (vcpus < 1 || vcpus > kMaxVcpus) {
        return unsupported("<vcpu>" + std::to_string(vcpus) + "</vcpu>: Vessel runs 1 to " +
                           std::to_string(kMaxVcpus));
      }
      def.vcpus = static_cast<uint32_t>(vcpus);
    } else if (name == "os") {
      TRY(parse_os(child, def));
    } else if (name == "devices") {
      for (const pugi::xml_node& device : child.children()) {
        if (device.type() == pugi::node_element) TRY(add_device(def, device));
      }
    } else if (name == "on_poweroff") {
      TRY_ASSIGN(def.on_poweroff, parse_action(child));
    } else if (name == "on_reboot") {
      TRY_ASSIGN(def.on_reboot, parse_action(child));
    } else if (name == "on_crash") {
      TRY_ASSIGN(def.on_crash, parse_action(child));
    } else if (name == "clock") {
      std::string offset = child.attribute("offset").as_string("utc");
      if (offset != "utc") return unsupported("clock offset '" + offset + "' (only 'utc')");
      def.kept_elements.push_back(serialize(child));
    } else if (name == "title" || name == "description" || name == "metadata" ||
               name == "features" || name == "pm") {
      // Documentation for people, and feature lists that riscv64 'virt' has
      // nothing to switch on or off for: kept as they were written.
      def.kept_elements.push_back(serialize(child));
    } else {
      return unsupported("element <" + name + "> in <domain> is not supported by Vessel");
    }
  }
  TRY(check_object_name(def.name, "domain"));
  if (!have_memory) return xml_error("missing <memory> element");
  if (def.memory_kib < kMinMemoryKib || def.memory_kib > kMaxMemoryKib) {
    return unsupported("memory of " + std::to_string(def.memory_kib) +
                       " KiB: Vessel gives a VM 2 MiB to 16 GiB");
  }
  if (def.current_memory_kib == 0 || def.current_memory_kib > def.memory_kib) {
    def.current_memory_kib = def.memory_kib;
  }
  if (!root.child("os")) return xml_error("missing <os> element");
  if (def.uuid == Uuid{}) def.uuid = random_uuid();
  return Ok();
}

void append_kept(pugi::xml_node parent, const std::vector<std::string>& kept) {
  for (const std::string& text : kept) {
    pugi::xml_document fragment;
    if (fragment.load_string(text.c_str())) parent.append_copy(fragment.document_element());
  }
}

void append_text(pugi::xml_node parent, const char* name, const std::string& text) {
  parent.append_child(name).text().set(text.c_str());
}

}  // namespace

Result<DomainDef> parse_domain_xml(const std::string& xml) {
  pugi::xml_document doc;
  TRY_ASSIGN(pugi::xml_node root, load_xml_root(doc, xml, "domain"));
  DomainDef def;
  TRY(parse_domain_node(root, def));
  return def;
}

std::string format_domain_xml(const DomainDef& def, int id) {
  pugi::xml_document doc;
  pugi::xml_node domain = doc.append_child("domain");
  domain.append_attribute("type") = "qemu";
  if (id >= 0) domain.append_attribute("id") = id;
  append_text(domain, "name", def.name);
  append_text(domain, "uuid", format_uuid(def.uuid));
  for (const std::string& text : def.kept_elements) {
    // <title>, <description>, <metadata> belong before <memory>; the rest after <os>.
    if (text.rfind("<title", 0) == 0 || text.rfind("<description", 0) == 0 ||
        text.rfind("<metadata", 0) == 0) {
      append_kept(domain, {text});
    }
  }
  pugi::xml_node memory = domain.append_child("memory");
  memory.append_attribute("unit") = "KiB";
  memory.text().set(static_cast<unsigned long long>(def.memory_kib));
  pugi::xml_node current = domain.append_child("currentMemory");
  current.append_attribute("unit") = "KiB";
  current.text().set(static_cast<unsigned long long>(def.current_memory_kib));
  pugi::xml_node vcpu = domain.append_child("vcpu");
  vcpu.append_attribute("placement") = "static";
  vcpu.text().set(def.vcpus);

  pugi::xml_node os = domain.append_child("os");
  pugi::xml_node type = os.append_child("type");
  type.append_attribute("arch") = "riscv64";
  type.append_attribute("machine") = "virt";
  type.text().set("hvm");
  if (!def.loader.empty()) append_text(os, "loader", def.loader);
  if (!def.kernel.empty()) append_text(os, "kernel", def.kernel);
  if (!def.initrd.empty()) append_text(os, "initrd", def.initrd);
  if (!def.cmdline.empty()) append_text(os, "cmdline", def.cmdline);

  for (const std::string& text : def.kept_elements) {
    if (text.rfind("<features", 0) == 0) append_kept(domain, {text});
  }
  for (const std::string& text : def.kept_elements) {
    if (text.rfind("<clock", 0) == 0) append_kept(domain, {text});
  }
  append_text(domain, "on_poweroff", action_name(def.on_poweroff));
  append_text(domain, "on_reboot", action_name(def.on_reboot));
  append_text(domain, "on_crash", action_name(def.on_crash));
  for (const std::string& text : def.kept_elements) {
    if (text.rfind("<pm", 0) == 0) append_kept(domain, {text});
  }

  pugi::xml_node devices = domain.append_child("devices");
  for (const DiskDef& disk : def.disks) {
    pugi::xml_node node = devices.append_child("disk");
    node.append_attribute("type") = "file";
    node.append_attribute("device") = "disk";
    pugi::xml_node driver = node.append_child("driver");
    driver.append_attribute("name") = "qemu";
    driver.append_attribute("type") = disk.format.c_str();
    node.append_child("source").append_attribute("file") = disk.path.c_str();
    pugi::xml_node target = node.append_child("target");
    target.append_attribute("dev") = disk.target.c_str();
    target.append_attribute("bus") = "virtio";
    if (disk.readonly) node.append_child("readonly");
  }
  for (const InterfaceDef& nic : def.interfaces) {
    pugi::xml_node node = devices.append_child("interface");
    const char* type_name = nic.type == InterfaceDef::Type::kUser      ? "user"
                            : nic.type == InterfaceDef::Type::kNetwork ? "network"
                                                                       : "bridge";
    node.append_attribute("type") = type_name;
    node.append_child("mac").append_attribute("address") = nic.mac.c_str();
    if (nic.type != InterfaceDef::Type::kUser) {
      node.append_child("source").append_attribute(
          nic.type == InterfaceDef::Type::kNetwork ? "network" : "bridge") = nic.source.c_str();
    }
    node.append_child("model").append_attribute("type") = "virtio";
  }
  if (def.console) {
    pugi::xml_node serial = devices.append_child("serial");
    serial.append_attribute("type") = "pty";
    serial.append_child("target").append_attribute("port") = 0;
    pugi::xml_node console = devices.append_child("console");
    console.append_attribute("type") = "pty";
    pugi::xml_node target = console.append_child("target");
    target.append_attribute("type") = "serial";
    target.append_attribute("port") = 0;
  }
  append_kept(devices, def.kept_devices);

  std::ostringstream out;
  doc.save(out, "  ",
           pugi::format_indent | pugi::format_no_declaration | pugi::format_attribute_single_quote);
  return out.str();
}

Result<void> apply_device_xml(DomainDef& def, const std::string& xml, bool detach) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size());
  if (!parsed) return xml_error(std::string("malformed device XML: ") + parsed.description());
  pugi::xml_node node = doc.document_element();
  const std::string name = node.name();
  if (name != "disk" && name != "interface") {
    return unsupported("device <" + name + ">: only <disk> and <interface> can be attached");
  }
  if (!detach) return add_device(def, node);
  if (name == "disk") {
    TRY_ASSIGN(DiskDef disk, parse_disk(node));
    auto match = std::find_if(def.disks.begin(), def.disks.end(),
                              [&](const DiskDef& d) { return d.target == disk.target; });
    if (match == def.disks.end()) {
      return virt_error::make(virt_error::kOperationFailed, "disk " + disk.target + " not found");
    }
    def.disks.erase(match);
    return Ok();
  }
  std::string mac = node.child("mac").attribute("address").as_string();
  std::transform(mac.begin(), mac.end(), mac.begin(), ::tolower);
  auto match = std::find_if(def.interfaces.begin(), def.interfaces.end(),
                            [&](const InterfaceDef& n) { return mac.empty() || n.mac == mac; });
  if (match == def.interfaces.end()) {
    return virt_error::make(virt_error::kOperationFailed,
                            "no interface with MAC address " + mac + " found");
  }
  def.interfaces.erase(match);
  return Ok();
}

}  // namespace vessel::daemon

#include "daemon/network_def.h"

#include <arpa/inet.h>

#include <cstring>
#include <pugixml.hpp>
#include <sstream>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

Error xml_error(const std::string& detail) {
  return virt_error::make(virt_error::kXmlError, detail);
}
Error unsupported(const std::string& detail) {
  return virt_error::make(virt_error::kConfigUnsupported, detail);
}

std::optional<uint32_t> ipv4(const std::string& text) {
  in_addr address{};
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

std::string ipv4_text(uint32_t value) {
  in_addr address{htonl(value)};
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

uint32_t mask_of(unsigned prefix) {
  return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
}

Result<void> parse_ip(const pugi::xml_node& ip, NetworkDef& def) {
  std::string family = ip.attribute("family").as_string("ipv4");
  if (family != "ipv4") return unsupported("<ip family='" + family + "'> (only ipv4)");
  auto address = ipv4(ip.attribute("address").as_string());
  if (!address) return xml_error("<ip> needs an IPv4 address");
  def.address = ip.attribute("address").as_string();
  if (pugi::xml_attribute netmask = ip.attribute("netmask")) {
    auto mask = ipv4(netmask.as_string());
    unsigned prefix = mask ? static_cast<unsigned>(__builtin_popcount(*mask)) : 33;
    if (!mask || mask_of(prefix) != *mask) {
      return xml_error(std::string("invalid netmask '") + netmask.as_string() + "'");
    }
    def.prefix = prefix;
  } else if (pugi::xml_attribute prefix = ip.attribute("prefix")) {
    def.prefix = prefix.as_uint(99);
  }
  // Room for the host, DNS and at least one guest, as user-mode NAT needs.
  if (def.prefix < 8 || def.prefix > 29) return unsupported("a network prefix of /8 to /29");
  uint32_t mask = mask_of(def.prefix);
  pugi::xml_node range = ip.child("dhcp").child("range");
  if (range) {
    auto start = ipv4(range.attribute("start").as_string());
    auto end = ipv4(range.attribute("end").as_string());
    if (!start || !end || (*start & mask) != (*address & mask) ||
        (*end & mask) != (*address & mask) || *end < *start) {
      return xml_error("the DHCP range must lie inside the network");
    }
    def.dhcp_start = ipv4_text(*start);
    def.dhcp_end = ipv4_text(*end);
  }
  return Ok();
}

}  // namespace

Result<NetworkDef> parse_network_xml(const std::string& xml) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size());
  if (!parsed) return xml_error(std::string("malformed XML: ") + parsed.description());
  pugi::xml_node root = doc.document_element();
  if (std::strcmp(root.name(), "network") != 0) {
    return xml_error(std::string("expected root element <network>, not <") + root.name() + ">");
  }
  NetworkDef def;
  def.name = root.child_value("name");
  if (def.name.empty() || def.name.size() > 200 || def.name.find('/') != std::string::npos ||
      def.name[0] == '.') {
    return xml_error("missing or unusable network name '" + def.name + "'");
  }
  if (pugi::xml_node uuid = root.child("uuid")) {
    auto parsed_uuid = parse_uuid(uuid.child_value());
    if (!parsed_uuid) return xml_error("malformed uuid element");
    def.uuid = *parsed_uuid;
  } else {
    def.uuid = random_uuid();
  }
  def.bridge = root.child("bridge").attribute("name").as_string();
  pugi::xml_node forward = root.child("forward");
  if (!forward) {
    def.mode = NetworkDef::Mode::kIsolated;
  } else {
    std::string mode = forward.attribute("mode").as_string("nat");
    if (mode == "nat") {
      def.mode = NetworkDef::Mode::kNat;
    } else if (mode == "bridge") {
      def.mode = NetworkDef::Mode::kBridge;
      if (def.bridge.empty()) return xml_error("a bridge network needs <bridge name='...'/>");
    } else {
      return unsupported("forward mode '" + mode + "' (nat, bridge, or none for isolated)");
    }
  }
  for (const pugi::xml_node& child : root.children()) {
    if (child.type() != pugi::node_element) continue;
    std::string name = child.name();
    if (name == "ip") {
      if (def.mode == NetworkDef::Mode::kBridge) {
        return unsupported("<ip> on a bridge network: the bridge's own network assigns addresses");
      }
      if (!def.address.empty()) return unsupported("more than one <ip> element");
      TRY(parse_ip(child, def));
    } else if (name != "name" && name != "uuid" && name != "forward" && name != "bridge" &&
               name != "mac" && name != "domain" && name != "dns") {
      return unsupported("element <" + name + "> in <network> is not supported by Vessel");
    }
  }
  if (def.mode != NetworkDef::Mode::kBridge && def.address.empty()) {
    return unsupported("a " + std::string(def.mode == NetworkDef::Mode::kNat ? "NAT" : "isolated") +
                       " network needs an <ip address=... netmask=...> for its guests");
  }
  return def;
}

std::string format_network_xml(const NetworkDef& def) {
  pugi::xml_document doc;
  pugi::xml_node network = doc.append_child("network");
  network.append_child("name").text().set(def.name.c_str());
  network.append_child("uuid").text().set(format_uuid(def.uuid).c_str());
  if (def.mode != NetworkDef::Mode::kIsolated) {
    network.append_child("forward").append_attribute("mode") =
        def.mode == NetworkDef::Mode::kNat ? "nat" : "bridge";
  }
  if (!def.bridge.empty())
    network.append_child("bridge").append_attribute("name") = def.bridge.c_str();
  if (def.mode != NetworkDef::Mode::kBridge) {
    pugi::xml_node ip = network.append_child("ip");
    ip.append_attribute("address") = def.address.c_str();
    ip.append_attribute("netmask") = ipv4_text(mask_of(def.prefix)).c_str();
    if (!def.dhcp_start.empty()) {
      pugi::xml_node range = ip.append_child("dhcp").append_child("range");
      range.append_attribute("start") = def.dhcp_start.c_str();
      range.append_attribute("end") = def.dhcp_end.c_str();
    }
  }
  std::ostringstream out;
  doc.save(out, "  ",
           pugi::format_indent | pugi::format_no_declaration | pugi::format_attribute_single_quote);
  return out.str();
}

NetworkDef default_network() {
  NetworkDef def;
  def.name = "default";
  def.uuid = random_uuid();
  def.mode = NetworkDef::Mode::kNat;
  def.bridge = "virbr0";
  def.address = "192.168.122.1";
  def.prefix = 24;
  def.dhcp_start = "192.168.122.2";
  def.dhcp_end = "192.168.122.254";
  return def;
}

std::string nic_option(const NetworkDef& def, const std::string& mac) {
  if (def.mode == NetworkDef::Mode::kBridge) return "bridge,br=" + def.bridge + ",mac=" + mac;
  uint32_t host = *ipv4(def.address);
  std::string option = "user,net=" + ipv4_text(host & mask_of(def.prefix)) + "/" +
                       std::to_string(def.prefix) + ",host=" + def.address;
  if (!def.dhcp_start.empty()) option += ",dhcpstart=" + def.dhcp_start;
  if (def.mode == NetworkDef::Mode::kIsolated) option += ",restrict=on";
  return option + ",mac=" + mac;
}

}  // namespace vessel::daemon

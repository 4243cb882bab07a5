#include "daemon/xml_util.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

Error xml_error(const std::string& detail) {
  return virt_error::make(virt_error::kXmlError, detail);
}

// libvirt's virScaleInteger: "b" or "bytes", else a prefix k, m, g, t, p or e
// (any case) alone or with "iB" for powers of 1024, with "B" for powers of 1000.
Result<uint64_t> unit_bytes(std::string unit) {
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  if (unit == "b" || unit == "byte" || unit == "bytes") return uint64_t{1};
  static constexpr std::string_view kPrefixes = "kmgtpe";
  size_t exponent = unit.empty() ? std::string_view::npos : kPrefixes.find(unit[0]);
  std::string suffix = unit.empty() ? "" : unit.substr(1);
  if (exponent == std::string_view::npos || (suffix != "" && suffix != "ib" && suffix != "b")) {
    return xml_error("unknown unit '" + unit + "'");
  }
  uint64_t base = suffix == "b" ? 1000 : 1024, scale = 1;
  for (size_t i = 0; i <= exponent; ++i) scale *= base;
  return scale;
}

}  // namespace

Result<pugi::xml_node> load_xml_root(pugi::xml_document& doc, const std::string& xml,
                                     const char* root_name) {
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default);
  if (!parsed) {
    return xml_error(std::string("malformed XML at offset ") + std::to_string(parsed.offset) +
                     ": " + parsed.description());
  }
  pugi::xml_node root = doc.document_element();
  if (std::strcmp(root.name(), root_name) != 0) {
    return xml_error(std::string("expected root element <") + root_name + ">, not <" + root.name() +
                     ">");
  }
  return root;
}

std::string xml_text(const pugi::xml_node& node) {
  std::string text = node.child_value();
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

Result<void> only_children(const pugi::xml_node& node, std::initializer_list<const char*> allowed) {
  for (const pugi::xml_node& child : node.children()) {
    if (child.type() != pugi::node_element) continue;
    bool known = std::any_of(allowed.begin(), allowed.end(), [&](const char* name) {
      return std::strcmp(child.name(), name) == 0;
    });
    if (!known) {
      return virt_error::make(virt_error::kConfigUnsupported,
                              "element <" + std::string(child.name()) + "> in <" + node.name() +
                                  "> is not supported by Vessel");
    }
  }
  return Ok();
}

Result<void> check_object_name(const std::string& name, const char* what) {
  if (name.empty()) return xml_error(std::string("missing ") + what + " name");
  if (name.size() > 200 || name.find('/') != std::string::npos || name[0] == '.' ||
      std::any_of(name.begin(), name.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return xml_error(std::string(what) + " name '" + name +
                     "' cannot be used (no '/', control characters or leading '.')");
  }
  return Ok();
}

Result<uint64_t> parse_scaled_bytes(const pugi::xml_node& node, const char* default_unit) {
  const std::string element = node.name();
  const std::string text = xml_text(node);
  if (text.empty() || text.size() > 20 || !std::all_of(text.begin(), text.end(), ::isdigit)) {
    return xml_error("invalid value '" + text + "' for <" + element + ">");
  }
  errno = 0;
  uint64_t value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return xml_error("<" + element + "> is too large");
  TRY_ASSIGN(uint64_t scale, unit_bytes(node.attribute("unit").as_string(default_unit)));
  if (value > UINT64_MAX / scale) return xml_error("<" + element + "> is too large");
  return value * scale;
}

}  // namespace vessel::daemon

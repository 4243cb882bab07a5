#include "daemon/snapshot_xml.h"

#include <algorithm>
#include <cstring>
#include <pugixml.hpp>
#include <sstream>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

constexpr pugi::xml_encoding kEncoding = pugi::encoding_utf8;
constexpr unsigned kFormat =
    pugi::format_indent | pugi::format_no_declaration | pugi::format_attribute_single_quote;

std::string trimmed(const pugi::xml_node& node) {
  std::string text = node.child_value();
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

const char* location_name(SnapshotLocation location) {
  switch (location) {
    case SnapshotLocation::kNo:
      return "no";
    case SnapshotLocation::kInternal:
      return "internal";
    case SnapshotLocation::kExternal:
      return "external";
    case SnapshotLocation::kDefault:
      break;
  }
  return "";
}

Result<SnapshotLocation> parse_location(const pugi::xml_node& node) {
  pugi::xml_attribute attribute = node.attribute("snapshot");
  if (!attribute) return SnapshotLocation::kDefault;
  const std::string value = attribute.value();
  for (SnapshotLocation location :
       {SnapshotLocation::kNo, SnapshotLocation::kInternal, SnapshotLocation::kExternal}) {
    if (value == location_name(location)) return location;
  }
  return make(virt_error::kXmlError,
              "unknown snapshot location '" + value + "' in <" + std::string(node.name()) + ">");
}

Result<SnapshotState> parse_state(const std::string& text) {
  for (SnapshotState state : {SnapshotState::kRunning, SnapshotState::kPaused,
                              SnapshotState::kShutoff, SnapshotState::kDiskSnapshot}) {
    if (text == state_name(state)) return state;
  }
  return make(virt_error::kConfigUnsupported, "snapshot state '" + text + "'");
}

Result<SnapshotDiskDef> parse_disk(const pugi::xml_node& node) {
  SnapshotDiskDef disk;
  disk.name = node.attribute("name").value();
  if (disk.name.empty()) return make(virt_error::kXmlError, "missing name from disk snapshot");
  TRY_ASSIGN(disk.snapshot, parse_location(node));
  const std::string type = node.attribute("type").as_string("file");
  if (type != "file")
    return make(virt_error::kConfigUnsupported, "snapshot disk type '" + type + "'");
  disk.file = node.child("source").attribute("file").value();
  disk.format = node.child("driver").attribute("type").value();
  // A disk given a file is external unless it says otherwise (libvirt).
  if (disk.snapshot == SnapshotLocation::kDefault && !disk.file.empty()) {
    disk.snapshot = SnapshotLocation::kExternal;
  }
  if (!disk.file.empty() && disk.snapshot != SnapshotLocation::kExternal) {
    return make(virt_error::kXmlError, "file '" + disk.file + "' for disk '" + disk.name +
                                           "' requires use of external snapshot mode");
  }
  if (!disk.file.empty() && disk.file[0] != '/') {
    return make(virt_error::kConfigUnsupported,
                "the snapshot file of disk '" + disk.name + "' needs an absolute path");
  }
  if (!disk.format.empty() && disk.format != "qcow2") {
    return make(virt_error::kConfigUnsupported, "external snapshot format '" + disk.format + "'");
  }
  return disk;
}

}  // namespace

const char* state_name(SnapshotState state) {
  switch (state) {
    case SnapshotState::kRunning:
      return "running";
    case SnapshotState::kPaused:
      return "paused";
    case SnapshotState::kShutoff:
      return "shutoff";
    case SnapshotState::kDiskSnapshot:
      return "disk-snapshot";
  }
  return "";
}

Result<void> check_snapshot_name(const std::string& name) {
  // libvirt's checks (VIR_ERR_XML_DETAIL): the name becomes a file name.
  if (name.find('/') != std::string::npos) {
    return make(virt_error::kXmlDetail,
                "invalid snapshot name '" + name + "': name can't contain '/'");
  }
  if (!name.empty() && name[0] == '.') {
    return make(virt_error::kXmlDetail,
                "invalid snapshot name '" + name + "': name can't start with '.'");
  }
  return Ok();
}

bool is_external(const SnapshotDef& def) {
  return std::any_of(def.disks.begin(), def.disks.end(), [](const SnapshotDiskDef& disk) {
    return disk.snapshot == SnapshotLocation::kExternal;
  });
}

Result<SnapshotDef> parse_snapshot_xml(const std::string& xml) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, kEncoding);
  if (!parsed) {
    return make(virt_error::kXmlError, std::string("malformed XML at offset ") +
                                           std::to_string(parsed.offset) + ": " +
                                           parsed.description());
  }
  pugi::xml_node root = doc.document_element();
  if (std::strcmp(root.name(), "domainsnapshot") != 0) {
    return make(virt_error::kXmlError,
                std::string("expected root element <domainsnapshot>, not <") + root.name() + ">");
  }
  SnapshotDef def;
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element) continue;
    const std::string element = node.name();
    if (element == "name") {
      def.name = trimmed(node);
    } else if (element == "description") {
      def.description = node.child_value();
    } else if (element == "state") {
      TRY_ASSIGN(def.state, parse_state(trimmed(node)));
    } else if (element == "parent") {
      def.parent = trimmed(node.child("name"));
    } else if (element == "creationTime") {
      const std::string text = trimmed(node);
      if (text.empty() || text.size() > 18 || !std::all_of(text.begin(), text.end(), ::isdigit)) {
        return make(virt_error::kXmlError, "invalid creationTime '" + text + "'");
      }
      def.creation_time = std::stoll(text);
    } else if (element == "memory") {
      TRY_ASSIGN(def.memory, parse_location(node));
      if (def.memory == SnapshotLocation::kExternal || node.attribute("file")) {
        return make(virt_error::kConfigUnsupported, "an external memory snapshot");
      }
    } else if (element == "disks") {
      for (pugi::xml_node disk : node.children("disk")) {
        TRY_ASSIGN(SnapshotDiskDef parsed_disk, parse_disk(disk));
        def.disks.push_back(std::move(parsed_disk));
      }
    } else if (element == "domain") {
      std::ostringstream out;
      node.print(out, "  ", kFormat, kEncoding);
      def.domain_xml = out.str();
    } else if (element == "active" || element == "cookie" || element == "inactiveDomain") {
      // Kept by libvirt for redefinition; nothing Vessel uses.
    } else {
      return make(virt_error::kConfigUnsupported, "snapshot element <" + element + ">");
    }
  }
  return def;
}

std::string format_snapshot_xml(const SnapshotDef& def) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("domainsnapshot");
  root.append_child("name").text().set(def.name.c_str());
  if (!def.description.empty())
    root.append_child("description").text().set(def.description.c_str());
  root.append_child("state").text().set(state_name(def.state));
  if (!def.parent.empty()) {
    root.append_child("parent").append_child("name").text().set(def.parent.c_str());
  }
  root.append_child("creationTime").text().set(static_cast<long long>(def.creation_time));
  if (def.memory != SnapshotLocation::kDefault) {
    root.append_child("memory").append_attribute("snapshot") = location_name(def.memory);
  }
  if (!def.disks.empty()) {
    pugi::xml_node disks = root.append_child("disks");
    for (const SnapshotDiskDef& disk : def.disks) {
      pugi::xml_node node = disks.append_child("disk");
      node.append_attribute("name") = disk.name.c_str();
      if (disk.snapshot != SnapshotLocation::kDefault) {
        node.append_attribute("snapshot") = location_name(disk.snapshot);
      }
      if (disk.snapshot == SnapshotLocation::kExternal) {
        node.append_attribute("type") = "file";
        if (!disk.format.empty())
          node.append_child("driver").append_attribute("type") = disk.format.c_str();
        node.append_child("source").append_attribute("file") = disk.file.c_str();
      }
    }
  }
  if (!def.domain_xml.empty()) {
    pugi::xml_document domain;
    if (domain.load_buffer(def.domain_xml.data(), def.domain_xml.size(), pugi::parse_default,
                           kEncoding)) {
      root.append_copy(domain.document_element());
    }
  }
  std::ostringstream out;
  doc.save(out, "  ", kFormat, kEncoding);
  return out.str();
}

}  // namespace vessel::daemon

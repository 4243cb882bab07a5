#include "daemon/storage_xml.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>

#include "daemon/virt_error.h"
#include "daemon/xml_util.h"

namespace vessel::daemon {
namespace {

Error xml_error(const std::string& detail) {
  return virt_error::make(virt_error::kXmlError, detail);
}
Error unsupported(const std::string& detail) {
  return virt_error::make(virt_error::kConfigUnsupported, detail);
}

// An absolute path as libvirt's virFileSanitizePath leaves it: no repeated
// or trailing '/'. Components "." and ".." are refused, so that the path
// names the directory plainly (and a confined pool stays confined).
Result<std::string> sanitized_path(const std::string& path, const char* what) {
  if (path.empty() || path[0] != '/') {
    return xml_error(std::string(what) + " needs an absolute path, not '" + path + "'");
  }
  const std::string slashed = path + "/";
  if (slashed.find("/./") != std::string::npos || slashed.find("/../") != std::string::npos) {
    return xml_error(std::string(what) + " '" + path + "' has '.' or '..' components");
  }
  std::string clean;
  for (char c : path) {
    if (c == '/' && !clean.empty() && clean.back() == '/') continue;
    clean += c;
  }
  if (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  return clean;
}

// <permissions><mode>0755</mode>...: an octal mode of at most 0777.
Result<std::optional<uint32_t>> parse_mode(const pugi::xml_node& permissions) {
  TRY(only_children(permissions, {"mode", "owner", "group", "label"}));
  if (!permissions.child("mode")) return std::optional<uint32_t>();
  std::string text = xml_text(permissions.child("mode"));
  if (text.empty() || text.size() > 4 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    return xml_error("malformed octal mode '" + text + "'");
  }
  uint32_t mode = static_cast<uint32_t>(std::stoul(text, nullptr, 8));
  if (mode > 0777) return xml_error("mode '" + text + "' has bits beyond 0777");
  return std::optional<uint32_t>(mode);
}

std::string octal(uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode);
  return text;
}

void append_bytes(pugi::xml_node parent, const char* name, uint64_t bytes) {
  pugi::xml_node node = parent.append_child(name);
  node.append_attribute("unit") = "bytes";
  node.text().set(static_cast<unsigned long long>(bytes));
}

void append_text(pugi::xml_node parent, const char* name, const std::string& text) {
  parent.append_child(name).text().set(text.c_str());
}

std::string saved(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "  ",
           pugi::format_indent | pugi::format_no_declaration | pugi::format_attribute_single_quote);
  return out.str();
}

Result<VolumeFormat> parse_volume_format(const std::string& name) {
  if (name == "raw") return VolumeFormat::kRaw;
  if (name == "qcow2") return VolumeFormat::kQcow2;
  return unsupported("volume format '" + name + "' (raw or qcow2)");
}

Result<void> parse_volume_target(const pugi::xml_node& target, VolumeDef& def) {
  TRY(only_children(target, {"path", "format", "permissions", "compat", "features", "timestamps"}));
  if (pugi::xml_node format = target.child("format")) {
    TRY_ASSIGN(def.format, parse_volume_format(format.attribute("type").as_string("raw")));
  }
  if (pugi::xml_node permissions = target.child("permissions")) TRY(parse_mode(permissions));
  if (pugi::xml_node compat = target.child("compat")) {
    std::string version = xml_text(compat);
    if (version != "0.10" && version != "1.1") {
      return unsupported("qcow2 compat '" + version + "' (0.10 or 1.1)");
    }
    def.qcow2_v2 = version == "0.10";
  }
  if (pugi::xml_node features = target.child("features")) {
    TRY(only_children(features, {"lazy_refcounts"}));
    def.lazy_refcounts = static_cast<bool>(features.child("lazy_refcounts"));
  }
  if ((target.child("compat") || target.child("features")) && def.format != VolumeFormat::kQcow2) {
    return unsupported("<compat> and <features> are for qcow2 volumes");
  }
  if (def.qcow2_v2 && def.lazy_refcounts) {
    return unsupported("lazy refcounts need qcow2 compat 1.1");
  }
  return Ok();
}

}  // namespace

const char* volume_format_name(VolumeFormat format) {
  return format == VolumeFormat::kQcow2 ? "qcow2" : "raw";
}

Result<PoolDef> parse_pool_xml(const std::string& xml) {
  pugi::xml_document doc;
  TRY_ASSIGN(pugi::xml_node root, load_xml_root(doc, xml, "pool"));
  std::string type = root.attribute("type").as_string();
  if (type != "dir") return unsupported("storage pool type '" + type + "' (only 'dir')");
  // capacity, allocation and available are what dumpxml reported: ignored
  // on input, as libvirt does.
  TRY(only_children(root,
                    {"name", "uuid", "capacity", "allocation", "available", "source", "target"}));
  PoolDef def;
  def.name = xml_text(root.child("name"));
  TRY(check_object_name(def.name, "pool"));
  if (pugi::xml_node uuid = root.child("uuid")) {
    auto parsed = parse_uuid(xml_text(uuid));
    if (!parsed) return xml_error("malformed uuid element");
    def.uuid = *parsed;
  } else {
    def.uuid = random_uuid();
  }
  // A directory pool has no source: libvirt accepts an empty <source/>.
  TRY(only_children(root.child("source"), {}));
  pugi::xml_node target = root.child("target");
  TRY(only_children(target, {"path", "permissions"}));
  TRY_ASSIGN(def.target_path, sanitized_path(xml_text(target.child("path")), "a pool's <target>"));
  if (pugi::xml_node permissions = target.child("permissions")) {
    TRY_ASSIGN(def.mode, parse_mode(permissions));
  }
  return def;
}

std::string format_pool_xml(const PoolDef& def, const PoolSpace& space) {
  pugi::xml_document doc;
  pugi::xml_node pool = doc.append_child("pool");
  pool.append_attribute("type") = "dir";
  append_text(pool, "name", def.name);
  append_text(pool, "uuid", format_uuid(def.uuid));
  append_bytes(pool, "capacity", space.capacity);
  append_bytes(pool, "allocation", space.allocation);
  append_bytes(pool, "available", space.available);
  pool.append_child("source");
  pugi::xml_node target = pool.append_child("target");
  append_text(target, "path", def.target_path);
  if (def.mode) append_text(target.append_child("permissions"), "mode", octal(*def.mode));
  return saved(doc);
}

Result<VolumeDef> parse_volume_xml(const std::string& xml) {
  pugi::xml_document doc;
  TRY_ASSIGN(pugi::xml_node root, load_xml_root(doc, xml, "volume"));
  std::string type = root.attribute("type").as_string("file");
  if (type != "file") return unsupported("volume type '" + type + "' (only 'file')");
  TRY(only_children(root,
                    {"name", "key", "capacity", "allocation", "physical", "target", "source"}));
  VolumeDef def;
  def.name = xml_text(root.child("name"));
  TRY(check_object_name(def.name, "volume"));
  pugi::xml_node capacity = root.child("capacity");
  if (!capacity) return xml_error("missing capacity element");
  // A volume's sizes are in bytes unless a unit says otherwise.
  TRY_ASSIGN(def.capacity, parse_scaled_bytes(capacity, "bytes"));
  if (pugi::xml_node allocation = root.child("allocation")) {
    TRY_ASSIGN(def.allocation, parse_scaled_bytes(allocation, "bytes"));
  } else {
    def.allocation = def.capacity;  // libvirt: without <allocation>, fully allocated
  }
  def.allocation = std::min(def.allocation, def.capacity);
  TRY(only_children(root.child("source"), {}));
  TRY(parse_volume_target(root.child("target"), def));
  return def;
}

std::string format_volume_xml(const VolumeInfo& volume) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("volume");
  root.append_attribute("type") = "file";
  append_text(root, "name", volume.name);
  append_text(root, "key", volume.path);  // a directory pool's key is the path
  root.append_child("source");
  append_bytes(root, "capacity", volume.capacity);
  append_bytes(root, "allocation", volume.allocation);
  append_bytes(root, "physical", volume.physical);
  pugi::xml_node target = root.append_child("target");
  append_text(target, "path", volume.path);
  target.append_child("format").append_attribute("type") = volume_format_name(volume.format);
  pugi::xml_node permissions = target.append_child("permissions");
  append_text(permissions, "mode", octal(volume.mode));
  append_text(permissions, "owner", std::to_string(volume.owner));
  append_text(permissions, "group", std::to_string(volume.group));
  return saved(doc);
}

}  // namespace vessel::daemon

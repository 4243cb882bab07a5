// What every libvirt XML format of the daemon (domains, pools, volumes) needs
// from pugixml: a root element checked by name, trimmed text, object names
// that are safe as file names, and libvirt's scaled integers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <pugixml.hpp>
#include <string>

#include "base/result.h"

namespace vessel::daemon {

// Parses `xml` into `doc`; its root element must be <root_name>. Errors are
// libvirt's XML errors (code 27).
Result<pugi::xml_node> load_xml_root(pugi::xml_document& doc, const std::string& xml,
                                     const char* root_name);

// The node's text without leading and trailing white space.
std::string xml_text(const pugi::xml_node& node);

// Refuses (VIR_ERR_CONFIG_UNSUPPORTED, naming it) any child element of
// `node` not in `allowed`: what Vessel cannot honour is never dropped silently.
Result<void> only_children(const pugi::xml_node& node, std::initializer_list<const char*> allowed);

// A name the daemon keeps a file by: not empty, no '/', no leading '.', no
// control characters. `what` names the object in the error ("pool").
Result<void> check_object_name(const std::string& name, const char* what);

// libvirt's scaled integer (<capacity unit='G'>1</capacity>) in bytes;
// `default_unit` when the element has no unit attribute.
Result<uint64_t> parse_scaled_bytes(const pugi::xml_node& node, const char* default_unit);

}  // namespace vessel::daemon

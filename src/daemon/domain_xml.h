// libvirt's domain XML (https://libvirt.org/formatdomain.html) to and from
// DomainDef. Anything Vessel could not honour is refused with a libvirt-style
// error naming the element or attribute, never silently dropped.
#pragma once

#include <string>

#include "base/result.h"
#include "daemon/domain_def.h"

namespace vessel::daemon {

// Fills in what libvirt fills in at define time: a UUID, MAC addresses,
// disk targets, currentMemory.
Result<DomainDef> parse_domain_xml(const std::string& xml);

// `id` is the running domain's id, or -1 for an inactive one (no id attribute).
std::string format_domain_xml(const DomainDef& def, int id);

// Parses one <disk> or <interface> (attach-device) and adds it to `def`;
// `detach` removes the matching device instead.
Result<void> apply_device_xml(DomainDef& def, const std::string& xml, bool detach);

}  // namespace vessel::daemon

// libvirt's identity rule for a new definition among the objects a manager
// knows (domains, networks): a name keeps its UUID and a UUID keeps its name.
#pragma once

#include <string>

#include "base/result.h"
#include "daemon/domain_def.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {

// `known` maps names to objects whose UUID `uuid_of` gives; `kind` names
// them in the message ("domain", "network").
template <typename Map, typename UuidOf>
Result<void> check_identity(const char* kind, const std::string& name, const Uuid& uuid,
                            const Map& known, UuidOf uuid_of) {
  for (const auto& [known_name, object] : known) {
    const Uuid& known_uuid = uuid_of(object);
    if (known_name == name && known_uuid != uuid) {
      return virt_error::make(virt_error::kOperationFailed, std::string(kind) + " '" + name +
                                                                "' is already defined with uuid " +
                                                                format_uuid(known_uuid));
    }
    if (known_name != name && known_uuid == uuid) {
      return virt_error::make(virt_error::kOperationFailed, std::string(kind) + " '" + known_name +
                                                                "' already exists with uuid " +
                                                                format_uuid(uuid));
    }
  }
  return Ok();
}

}  // namespace vessel::daemon

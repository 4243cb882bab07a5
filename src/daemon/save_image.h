// The file `virsh save` writes: a short header with the domain's XML (so
// that `virsh restore` needs nothing else, as libvirt's save images), then
// the VM's own state stream, exactly as `vessel run`'s QMP `migrate` writes
// it and `vessel run --incoming` reads it.
//
//   "vessel-domain-save 1\n"  "<xml length>\n"  XML  state stream
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace vessel::daemon {

struct SaveImageHeader {
  std::string xml;
  uint64_t state_offset = 0;  // where the state stream begins
};

// Creates (truncates) `path`, mode 0600, holding only the header.
Result<void> write_save_header(const std::string& path, const std::string& xml);
Result<SaveImageHeader> read_save_header(const std::string& path);

// Shell quoting for the exec: URIs that append to / read from a save file.
std::string shell_quote(const std::string& text);

}  // namespace vessel::daemon

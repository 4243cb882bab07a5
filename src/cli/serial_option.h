// `vessel run --serial`: where the guest's serial console goes, in QEMU's
// -serial spelling: stdio, file:PATH, or a Unix socket served to one client
// at a time, unix:PATH,server[=on][,wait=on|off][,logfile=PATH][,logappend=on|off].
#pragma once

#include <string_view>

#include "base/result.h"
#include "vmm/serial_sink.h"

namespace vessel::cli {

Result<vmm::SerialTarget> parse_serial(std::string_view text);

}  // namespace vessel::cli

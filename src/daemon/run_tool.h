// Runs a short-lived helper program (the daemon's own `vessel img`) and
// waits for it: what the daemon does to a shut-off domain's disks goes
// through the same tool an administrator would use, not a second copy of the
// block layer inside the daemon.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace vessel::daemon {

// argv[0] is an executable path. Fails unless the program exits with status
// 0; the error is the last line it wrote to its standard error.
Result<void> run_tool(const std::vector<std::string>& argv);

}  // namespace vessel::daemon

// How an image operation reports while it runs, without printing: the
// command line prints what these hear, the daemon logs or ignores it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace vessel::storage {

// Where an operation's warnings go (the command line prints them after
// "vessel: warning: "); null: nowhere.
using Warn = std::function<void(const std::string&)>;

// Called as long work advances: `done` of `total` units; null: not called.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

}  // namespace vessel::storage

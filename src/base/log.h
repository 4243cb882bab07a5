// Logging to stderr. Guest-triggered messages go through GuestErrorLog so a
// misbehaving guest cannot flood the host's log.
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>

namespace vessel::log {

enum class Level { kError, kWarning, kInfo, kDebug };

void set_level(Level level);
void message(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

#define LOG_ERROR(...) ::vessel::log::message(::vessel::log::Level::kError, __VA_ARGS__)
#define LOG_WARN(...) ::vessel::log::message(::vessel::log::Level::kWarning, __VA_ARGS__)
#define LOG_INFO(...) ::vessel::log::message(::vessel::log::Level::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) ::vessel::log::message(::vessel::log::Level::kDebug, __VA_ARGS__)

// Rate-limited warning for events a guest can cause: at most `burst` messages,
// then silence (with one final note) so guest misbehaviour cannot fill disks.
class GuestErrorLog {
 public:
  explicit GuestErrorLog(uint32_t burst = 10) : burst_(burst) {}
  void warn(const char* format, ...) __attribute__((format(printf, 2, 3)));

 private:
  uint32_t burst_;
  std::atomic<uint32_t> count_{0};
};

}  // namespace vessel::log

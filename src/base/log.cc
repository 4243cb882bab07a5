#include "base/log.h"

#include <cstdio>

namespace vessel::log {
namespace {
std::atomic<Level> g_level{Level::kWarning};

const char* prefix(Level level) {
  switch (level) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kInfo: return "info";
    case Level::kDebug: return "debug";
  }
  return "";
}

void vprint(Level level, const char* format, va_list args) {
  char line[1024];
  vsnprintf(line, sizeof line, format, args);
  // \r first: the console may be in raw mode, where \n does not return the carriage.
  fprintf(stderr, "\rvessel: %s: %s\r\n", prefix(level), line);
}
}  // namespace

void set_level(Level level) { g_level = level; }

void message(Level level, const char* format, ...) {
  if (level > g_level.load(std::memory_order_relaxed)) return;
  va_list args;
  va_start(args, format);
  vprint(level, format, args);
  va_end(args);
}

void GuestErrorLog::warn(const char* format, ...) {
  uint32_t n = count_.fetch_add(1, std::memory_order_relaxed);
  if (n > burst_) return;
  if (n == burst_) {
    message(Level::kWarning, "guest error: further messages of this kind suppressed");
    return;
  }
  va_list args;
  va_start(args, format);
  if (Level::kWarning <= g_level.load(std::memory_order_relaxed)) vprint(Level::kWarning, format, args);
  va_end(args);
}

}  // namespace vessel::log

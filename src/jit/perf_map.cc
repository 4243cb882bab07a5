#include "jit/perf_map.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace vessel::jit {

Result<std::shared_ptr<PerfMap>> PerfMap::open() {
  static std::mutex mutex;
  static std::weak_ptr<PerfMap> shared;
  std::lock_guard lock(mutex);
  if (auto map = shared.lock()) return map;
  const std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Error("perf map " + path + ": " + std::strerror(errno));
  std::shared_ptr<PerfMap> map(new PerfMap(fd));
  shared = map;
  return map;
}

PerfMap::~PerfMap() {
  close(fd_);
}

void PerfMap::name(const void* start, size_t size, std::string_view name) {
  char line[160];
  const int n =
      std::snprintf(line, sizeof(line), "%lx %zx %.*s\n", reinterpret_cast<unsigned long>(start),
                    size, static_cast<int>(name.size()), name.data());
  if (n > 0) (void)!write(fd_, line, std::min<size_t>(static_cast<size_t>(n), sizeof(line) - 1));
}

void PerfMap::name_block(const void* start, size_t size, uint64_t guest_pc) {
  char name[32];
  std::snprintf(name, sizeof(name), "guest:%llx", static_cast<unsigned long long>(guest_pc));
  this->name(start, size, name);
}

}  // namespace vessel::jit

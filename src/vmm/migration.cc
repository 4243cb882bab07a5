#include "vmm/migration.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "memory/ram_scan.h"

namespace vessel::vmm {
namespace {

constexpr char kMagic[8] = {'V', 'E', 'S', 'S', 'E', 'L', 'M', 'G'};
constexpr uint64_t kPage = memory::kPageSize;
// The device state is a few MiB at most; more is a corrupt stream.
constexpr uint64_t kMaxStateBytes = uint64_t{1} << 30;
// A destination that stops reading (or answering) for this long is gone.
constexpr int kIoTimeoutSeconds = 30;

using Clock = std::chrono::steady_clock;

class Writer {
 public:
  Writer(int fd, MigrationStats& stats) : fd_(fd), stats_(stats) {}
  void put(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buffer_.insert(buffer_.end(), b, b + n);
  }
  void u8(uint8_t v) { put(&v, 1); }
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  Result<void> flush_if_full() { return buffer_.size() >= (1 << 20) ? flush() : Ok(); }
  Result<void> flush() {
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = send(fd_, buffer_.data() + done, buffer_.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error(std::string("migration stream: ") + strerror(errno));
      done += static_cast<size_t>(n);
    }
    stats_.transferred.fetch_add(buffer_.size());
    buffer_.clear();
    return Ok();
  }

 private:
  int fd_;
  MigrationStats& stats_;
  std::vector<uint8_t> buffer_;
};

class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  Result<void> get(void* out, size_t n) {
    auto* o = static_cast<uint8_t*>(out);
    while (n > 0) {
      if (pos_ == end_) {
        ssize_t got = recv(fd_, buffer_, sizeof buffer_, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return Error(std::string("migration stream: ") + strerror(errno));
        if (got == 0) return Error("migration stream: cut before the VM was complete");
        pos_ = 0;
        end_ = static_cast<size_t>(got);
      }
      size_t take = std::min(n, end_ - pos_);
      std::memcpy(o, buffer_ + pos_, take);
      pos_ += take;
      o += take;
      n -= take;
    }
    return Ok();
  }
  template <typename T>
  Result<T> value() {
    T v{};
    TRY(get(&v, sizeof v));
    return v;
  }

 private:
  int fd_;
  uint8_t buffer_[1 << 16];
  size_t pos_ = 0, end_ = 0;
};

// `zero`: whether the page reads as zeros (the caller knows how to tell).
Result<void> send_page(Writer& w, const uint8_t* ram, uint64_t page, bool zero,
                       MigrationStats& stats) {
  const uint8_t* p = ram + page * kPage;
  if (zero) {
    w.u8('Z');
    w.u64(page);
    stats.zero_pages.fetch_add(1);
  } else {
    w.u8('P');
    w.u64(page);
    w.put(p, kPage);
    stats.normal_pages.fetch_add(1);
  }
  return w.flush_if_full();
}

// Pages the guest wrote: present in the host, so their bytes tell.
Result<void> send_pages(Writer& w, const uint8_t* ram, const std::vector<uint64_t>& pages,
                        MigrationStats& stats) {
  for (uint64_t page : pages) {
    TRY(send_page(w, ram, page, memory::page_is_zero(ram + page * kPage), stats));
  }
  return Ok();
}

// One byte the destination sends back: 'Y' or 'A'.
Result<void> expect_reply(int fd, uint8_t want, const char* what) {
  uint8_t got = 0;
  ssize_t n;
  do {
    n = recv(fd, &got, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || got != want) return Error(what);
  return Ok();
}

// A pass ends with a sync: once the destination's 'Y' is back, everything
// sent is in its RAM. So a pass takes as long as the whole path does (the
// destination's page faults too, not just the time to fill socket buffers),
// which is the speed the downtime estimate needs; and when the VM stops,
// nothing is left in flight ahead of the last pages.
Result<void> sync(Writer& w, int fd) {
  w.u8('Y');
  TRY(w.flush());
  return expect_reply(fd, 'Y', "the destination stopped answering");
}

void set_timeouts(int fd) {
  timeval tv{kIoTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

Result<void> send_all(Vm& vm, int fd, const MigrationParams& params, MigrationStats& stats,
                      bool& paused_here) {
  memory::AddressSpace& bus = vm.board().bus();
  const uint8_t* ram = bus.ram_host();
  const uint64_t pages = bus.ram_size() / kPage;
  Writer w(fd, stats);
  w.put(kMagic, sizeof kMagic);
  w.u32(kMigrationVersion);
  w.u64(bus.ram_size());

  bus.dirty_log().enable(true);
  bus.dirty_log().collect_and_clear();
  // Pass 1: everything, while the guest runs. Pages the guest never wrote
  // go as zeros without being read (ram_scan.h); one it writes meanwhile is
  // in the dirty log already, and goes again.
  auto pass_start = Clock::now();
  uint64_t pass_bytes_before = stats.transferred.load();
  memory::RamScan scan(bus);
  for (uint64_t page = 0; page < pages; ++page) {
    if (stats.cancel.load()) return Error("migration cancelled");
    TRY(send_page(w, ram, page, scan.is_zero(page), stats));
  }
  TRY(sync(w, fd));
  stats.passes.store(1);
  // Then the pages dirtied meanwhile, until the rest fits the downtime.
  std::vector<uint64_t> dirty;
  for (;;) {
    double seconds = std::chrono::duration<double>(Clock::now() - pass_start).count();
    double bytes_per_second =
        std::max(1.0, static_cast<double>(stats.transferred.load() - pass_bytes_before) /
                          std::max(seconds, 1e-3));
    dirty = bus.dirty_log().collect_and_clear();
    stats.remaining.store(dirty.size() * kPage);
    double expected_ms = static_cast<double>(dirty.size() * kPage) / bytes_per_second * 1000;
    if (expected_ms <= static_cast<double>(params.downtime_limit_ms) ||
        stats.passes.load() >= params.max_passes) {
      break;
    }
    if (stats.cancel.load()) return Error("migration cancelled");
    pass_start = Clock::now();
    pass_bytes_before = stats.transferred.load();
    TRY(send_pages(w, ram, dirty, stats));
    TRY(sync(w, fd));
    stats.passes.fetch_add(1);
  }
  // Stop and copy: the last dirty pages and the device state.
  auto stop_start = Clock::now();
  if (!vm.paused()) {
    vm.pause();
    paused_here = true;
  }
  TRY(send_pages(w, ram, dirty, stats));
  TRY(send_pages(w, ram, bus.dirty_log().collect_and_clear(), stats));
  StateWriter state;
  TRY(vm.save(state, /*include_ram=*/false));
  w.u8('S');
  w.u64(state.data().size());
  w.put(state.data().data(), state.data().size());
  TRY(w.flush());
  stats.remaining.store(0);
  TRY(expect_reply(fd, 'A', "the destination did not take the VM"));
  stats.downtime_ms.store(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop_start).count()));
  return Ok();
}

Result<void> reply(int fd, uint8_t byte) {
  if (send(fd, &byte, 1, MSG_NOSIGNAL) != 1) {
    return Error(std::string("incoming migration: ") + strerror(errno));
  }
  return Ok();
}

Result<addrinfo*> resolve(const std::string& host_port, bool passive) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return Error("'" + host_port + "' is not HOST:PORT");
  std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) return Error(host_port + ": " + gai_strerror(rc));
  return result;
}

}  // namespace

Result<void> send_vm(Vm& vm, int fd, const MigrationParams& params, MigrationStats& stats) {
  set_timeouts(fd);
  bool paused_here = false;
  Result<void> sent = send_all(vm, fd, params, stats, paused_here);
  vm.board().bus().dirty_log().enable(false);
  if (!sent && paused_here) vm.resume();
  return sent;
}

Result<void> receive_vm(Vm& vm, int fd) {
  set_timeouts(fd);
  memory::AddressSpace& bus = vm.board().bus();
  uint8_t* ram = bus.ram_host();
  const uint64_t pages = bus.ram_size() / kPage;
  Reader r(fd);
  char magic[8];
  TRY(r.get(magic, sizeof magic));
  if (std::memcmp(magic, kMagic, sizeof magic) != 0) {
    return Error("incoming migration: not a Vessel migration stream");
  }
  TRY_ASSIGN(uint32_t version, r.value<uint32_t>());
  if (version < 1 || version > kMigrationVersion) {
    return Error("incoming migration: stream version " + std::to_string(version) +
                 "; this Vessel speaks versions 1 to " + std::to_string(kMigrationVersion));
  }
  TRY_ASSIGN(uint64_t ram_size, r.value<uint64_t>());
  if (ram_size != bus.ram_size()) {
    return Error("incoming migration: the source has " + std::to_string(ram_size >> 20) +
                 " MiB of RAM, this VM " + std::to_string(bus.ram_size() >> 20) + " MiB");
  }
  // Every page comes at least once (pass 1), so what the VM was made with
  // (firmware, kernel) goes: RAM starts as zeros that take no host memory,
  // and a zero page the stream never wrote needs no work at all.
  if (madvise(ram, bus.ram_size(), MADV_DONTNEED) != 0) std::memset(ram, 0, bus.ram_size());
  std::vector<bool> written(pages);
  for (;;) {
    TRY_ASSIGN(uint8_t type, r.value<uint8_t>());
    if (type == 'P' || type == 'Z') {
      TRY_ASSIGN(uint64_t page, r.value<uint64_t>());
      if (page >= pages) return Error("incoming migration: page beyond RAM");
      if (type == 'P') {
        TRY(r.get(ram + page * kPage, kPage));
        written[page] = true;
      } else if (written[page]) {
        std::memset(ram + page * kPage, 0, kPage);
        written[page] = false;
      }
      continue;
    }
    if (type == 'Y' && version >= 2) {
      TRY(reply(fd, 'Y'));
      continue;
    }
    if (type != 'S') return Error("incoming migration: corrupt stream");
    TRY_ASSIGN(uint64_t length, r.value<uint64_t>());
    if (length > kMaxStateBytes) return Error("incoming migration: corrupt stream");
    std::vector<uint8_t> state(length);
    TRY(r.get(state.data(), state.size()));
    StateReader reader(state);
    TRY(vm.restore(reader));
    return reply(fd, 'A');
  }
}

Result<int> connect_tcp(const std::string& host_port) {
  TRY_ASSIGN(addrinfo * list, resolve(host_port, false));
  std::string why = "no address";
  for (addrinfo* a = list; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      freeaddrinfo(list);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    why = strerror(errno);
    close(fd);
  }
  freeaddrinfo(list);
  return Error(host_port + ": " + why);
}

Result<int> accept_tcp(const std::string& host_port, const std::function<bool()>& give_up) {
  TRY_ASSIGN(addrinfo * list, resolve(host_port, true));
  int listener = -1;
  std::string why = "no address";
  for (addrinfo* a = list; a && listener < 0; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1) == 0) {
      listener = fd;
    } else {
      why = strerror(errno);
      close(fd);
    }
  }
  freeaddrinfo(list);
  if (listener < 0) return Error(host_port + ": " + why);
  int fd = -1;
  std::string accept_error;
  while (fd < 0) {
    pollfd p{listener, POLLIN, 0};
    int ready = poll(&p, 1, 200);
    if (give_up()) {
      accept_error = "stopped while waiting for the source";
      break;
    }
    if (ready <= 0) continue;
    fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 && errno != EINTR && errno != EAGAIN) {
      accept_error = strerror(errno);
      break;
    }
  }
  close(listener);
  if (fd < 0) return Error(host_port + ": accept: " + accept_error);
  return fd;
}

}  // namespace vessel::vmm

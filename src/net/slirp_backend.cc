#include "net/slirp_backend.h"

#include <arpa/inet.h>
#include <slirp/libslirp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>

namespace vessel::net {

struct SlirpBackend::Timer {
  SlirpTimerCb cb = nullptr;  // set for timer_new; else slirp_handle_timer(id)
  SlirpTimerId id = SLIRP_TIMER_RA;
  void* cb_opaque = nullptr;
  int64_t expire_ms = -1;  // -1: not armed
};

namespace {

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

short to_poll_events(int slirp_events) {
  short events = 0;
  if (slirp_events & SLIRP_POLL_IN) events |= POLLIN;
  if (slirp_events & SLIRP_POLL_OUT) events |= POLLOUT;
  if (slirp_events & SLIRP_POLL_PRI) events |= POLLPRI;
  if (slirp_events & SLIRP_POLL_ERR) events |= POLLERR;
  if (slirp_events & SLIRP_POLL_HUP) events |= POLLHUP;
  return events;
}

int to_slirp_events(short revents) {
  int events = 0;
  if (revents & POLLIN) events |= SLIRP_POLL_IN;
  if (revents & POLLOUT) events |= SLIRP_POLL_OUT;
  if (revents & POLLPRI) events |= SLIRP_POLL_PRI;
  if (revents & POLLERR) events |= SLIRP_POLL_ERR;
  if (revents & POLLHUP) events |= SLIRP_POLL_HUP;
  return events;
}

std::string ipv4(in_addr addr) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return buf;
}

in6_addr ipv6(const char* text) {
  in6_addr addr{};
  inet_pton(AF_INET6, text, &addr);
  return addr;
}

}  // namespace

// libslirp's callbacks; every one runs with mutex_ held by the caller of
// the libslirp function that invoked it.
struct SlirpCallbacks {
  static SlirpBackend& self(void* opaque) { return *static_cast<SlirpBackend*>(opaque); }

  static ssize_t send_packet(const void* buf, size_t len, void* opaque) {
    SlirpBackend& b = self(opaque);
    if (b.queue_.size() >= SlirpBackend::kMaxQueuedFrames) {
      b.dropped_.fetch_add(1, std::memory_order_relaxed);
      return static_cast<ssize_t>(len);
    }
    const auto* bytes = static_cast<const uint8_t*>(buf);
    bool was_empty = b.queue_.empty();
    b.queue_.emplace_back(bytes, bytes + len);
    if (was_empty) b.wakeup_.signal();
    return static_cast<ssize_t>(len);
  }
  static void guest_error(const char* msg, void* opaque) {
    self(opaque).guest_errors_.warn("user network: %s", msg);
  }
  static int64_t clock_ns(void* /*opaque*/) { return monotonic_ns(); }
  static void* timer_new(SlirpTimerCb cb, void* cb_opaque, void* opaque) {
    auto timer = std::make_unique<SlirpBackend::Timer>();
    timer->cb = cb;
    timer->cb_opaque = cb_opaque;
    self(opaque).timers_.push_back(std::move(timer));
    return self(opaque).timers_.back().get();
  }
  static void* timer_new_opaque(SlirpTimerId id, void* cb_opaque, void* opaque) {
    auto timer = std::make_unique<SlirpBackend::Timer>();
    timer->id = id;
    timer->cb_opaque = cb_opaque;
    self(opaque).timers_.push_back(std::move(timer));
    return self(opaque).timers_.back().get();
  }
  static void timer_free(void* timer, void* opaque) {
    auto& timers = self(opaque).timers_;
    std::erase_if(timers, [timer](const auto& t) { return t.get() == timer; });
  }
  static void timer_mod(void* timer, int64_t expire_ms, void* opaque) {
    static_cast<SlirpBackend::Timer*>(timer)->expire_ms = expire_ms;
    self(opaque).wakeup_.signal();  // the I/O thread recomputes its timeout
  }
  static void register_poll_fd(int /*fd*/, void* /*opaque*/) {}
  static void unregister_poll_fd(int /*fd*/, void* /*opaque*/) {}
  static void notify(void* opaque) { self(opaque).wakeup_.signal(); }

  static int add_poll(int fd, int events, void* opaque) {
    SlirpBackend& b = self(opaque);
    // While the guest takes no frames, leave host sockets unread: their
    // senders then see TCP back-pressure instead of loss.
    if (b.gate_.closed() || b.queue_.size() >= SlirpBackend::kMaxQueuedFrames) {
      events &= ~SLIRP_POLL_IN;
    }
    b.pollfds_.push_back({fd, to_poll_events(events), 0});
    return static_cast<int>(b.pollfds_.size() - 1);
  }
  static int get_revents(int index, void* opaque) {
    SlirpBackend& b = self(opaque);
    if (index < 0 || static_cast<size_t>(index) >= b.pollfds_.size()) return 0;
    return to_slirp_events(b.pollfds_[index].revents);
  }
};

namespace {

const SlirpCb kCallbacks = {
    .send_packet = SlirpCallbacks::send_packet,
    .guest_error = SlirpCallbacks::guest_error,
    .clock_get_ns = SlirpCallbacks::clock_ns,
    .timer_new = SlirpCallbacks::timer_new,
    .timer_free = SlirpCallbacks::timer_free,
    .timer_mod = SlirpCallbacks::timer_mod,
    .register_poll_fd = SlirpCallbacks::register_poll_fd,
    .unregister_poll_fd = SlirpCallbacks::unregister_poll_fd,
    .notify = SlirpCallbacks::notify,
    .init_completed = nullptr,
    .timer_new_opaque = SlirpCallbacks::timer_new_opaque,
};

}  // namespace

Result<std::unique_ptr<SlirpBackend>> SlirpBackend::open(const UserNetConfig& config) {
  std::unique_ptr<SlirpBackend> b(new SlirpBackend());
  if (!b->wakeup_.valid()) return Error(std::string("eventfd: ") + strerror(errno));

  SlirpConfig cfg{};
  cfg.version = 4;
  cfg.restricted = config.restrict ? 1 : 0;
  cfg.in_enabled = true;
  cfg.vnetwork = config.network;
  cfg.vnetmask = in_addr{htonl(~uint32_t{0} << (32 - config.prefix))};
  cfg.vhost = config.host;
  cfg.vdhcp_start = config.dhcp_start;
  cfg.vnameserver = config.dns;
  // QEMU's IPv6 defaults: fec0::/64, the host at ::2, DNS at ::3.
  cfg.in6_enabled = config.ipv6;
  cfg.vprefix_addr6 = ipv6("fec0::");
  cfg.vprefix_len = 64;
  cfg.vhost6 = ipv6("fec0::2");
  cfg.vnameserver6 = ipv6("fec0::3");
  cfg.vhostname = "vessel";

  std::lock_guard lock(b->mutex_);
  b->slirp_ = slirp_new(&cfg, &kCallbacks, b.get());
  if (!b->slirp_) return Error("user network: libslirp refused the configuration");
  for (const HostForward& fwd : config.forwards) {
    errno = 0;
    if (slirp_add_hostfwd(b->slirp_, fwd.udp ? 1 : 0, fwd.host_addr, fwd.host_port, fwd.guest_addr,
                          fwd.guest_port) < 0) {
      std::string why = errno ? strerror(errno) : "libslirp refused it";
      return Error("hostfwd=" + fwd.spec + ": cannot listen on " + ipv4(fwd.host_addr) + ":" +
                   std::to_string(fwd.host_port) + " (" + why + ")");
    }
  }
  return b;
}

SlirpBackend::~SlirpBackend() {
  stop();
  std::lock_guard lock(mutex_);
  if (slirp_) slirp_cleanup(slirp_);
}

void SlirpBackend::start(FrameSink& sink) {
  sink_ = &sink;
  thread_ = std::thread([this] { run(); });
}

void SlirpBackend::stop() {
  stopping_.store(true);
  wakeup_.signal();
  if (thread_.joinable()) thread_.join();
}

void SlirpBackend::send(std::span<const iovec> pieces) {
  std::lock_guard lock(mutex_);
  tx_buffer_.clear();
  for (const iovec& piece : pieces) {
    const auto* bytes = static_cast<const uint8_t*>(piece.iov_base);
    tx_buffer_.insert(tx_buffer_.end(), bytes, bytes + piece.iov_len);
  }
  slirp_input(slirp_, tx_buffer_.data(), static_cast<int>(tx_buffer_.size()));
}

void SlirpBackend::resume_receive() {
  gate_.resume();
  wakeup_.signal();
}

void SlirpBackend::deliver_queued() {
  while (!stopping_.load(std::memory_order_relaxed) && !gate_.closed()) {
    std::vector<uint8_t> frame;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) return;
      frame = std::move(queue_.front());
      queue_.pop_front();
    }
    uint64_t ticket = gate_.ticket();
    if (sink_->deliver(frame)) {
      gate_.accepted();
      continue;
    }
    gate_.refused(ticket);
    std::lock_guard lock(mutex_);
    queue_.push_front(std::move(frame));
  }
}

int64_t SlirpBackend::next_timer_ms() const {
  int64_t next = -1;
  for (const auto& t : timers_) {
    if (t->expire_ms >= 0 && (next < 0 || t->expire_ms < next)) next = t->expire_ms;
  }
  return next;
}

void SlirpBackend::fire_timers() {
  int64_t now_ms = monotonic_ns() / 1'000'000;
  // A callback may free or re-arm timers: find one expired timer at a time.
  for (;;) {
    auto it = std::find_if(timers_.begin(), timers_.end(), [now_ms](const auto& t) {
      return t->expire_ms >= 0 && t->expire_ms <= now_ms;
    });
    if (it == timers_.end()) return;
    Timer& t = **it;
    t.expire_ms = -1;
    if (t.cb) {
      t.cb(t.cb_opaque);
    } else {
      slirp_handle_timer(slirp_, t.id, t.cb_opaque);
    }
  }
}

void SlirpBackend::run() {
  while (!stopping_.load()) {
    deliver_queued();
    int timeout_ms;
    {
      std::lock_guard lock(mutex_);
      pollfds_.clear();
      pollfds_.push_back({wakeup_.fd(), POLLIN, 0});
      uint32_t slirp_timeout = UINT32_MAX;
      slirp_pollfds_fill(slirp_, &slirp_timeout, SlirpCallbacks::add_poll, this);
      int64_t timeout = slirp_timeout == UINT32_MAX ? -1 : int64_t{slirp_timeout};
      int64_t next_timer = next_timer_ms();
      if (next_timer >= 0) {
        int64_t until = std::max<int64_t>(0, next_timer - monotonic_ns() / 1'000'000);
        timeout = timeout < 0 ? until : std::min(timeout, until);
      }
      // Frames waiting for a guest that takes them: go round at once.
      if (!queue_.empty() && !gate_.closed()) timeout = 0;
      timeout_ms = static_cast<int>(std::min<int64_t>(timeout, 60'000));
    }
    int n = poll(pollfds_.data(), pollfds_.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      LOG_ERROR("user network: poll: %s", strerror(errno));
      return;
    }
    if (pollfds_[0].revents & POLLIN) wakeup_.drain();
    std::lock_guard lock(mutex_);
    slirp_pollfds_poll(slirp_, n < 0 ? 1 : 0, SlirpCallbacks::get_revents, this);
    fire_timers();
  }
}

}  // namespace vessel::net

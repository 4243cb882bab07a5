#include "net/tap_backend.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/log.h"

namespace vessel::net {
namespace {

// The largest frame a TAP hands over: a 64 KiB GSO segment, its Ethernet
// header and a VLAN tag, after the virtio-net header.
constexpr size_t kMaxFrame = kVnetHeaderSize + 65536 + 18;
// Frames read per wake-up before the loop polls again.
constexpr int kReadBudget = 64;

bool interface_exists(const std::string& name) {
  return if_nametoindex(name.c_str()) != 0;
}

bool is_bridge(const std::string& name) {
  struct stat st;
  return stat(("/sys/class/net/" + name + "/bridge").c_str(), &st) == 0;
}

std::string errno_text() {
  return strerror(errno);
}

// ioctl on an AF_INET datagram socket, for interface flags and bridge ports.
Result<void> interface_ioctl(unsigned long request, ifreq& ifr, const char* what) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return Error(std::string("socket: ") + errno_text());
  int r = ioctl(sock, request, &ifr);
  int saved = errno;
  close(sock);
  if (r < 0) return Error(std::string(what) + ": " + strerror(saved));
  return Ok();
}

}  // namespace

TapBackend::TapBackend(int fd, std::string ifname)
    : fd_(fd), ifname_(std::move(ifname)), buffer_(kMaxFrame) {}

Result<std::unique_ptr<TapBackend>> TapBackend::attach(const std::string& name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error("tap " + name + ": /dev/net/tun: " + errno_text());
  unsigned features = 0;
  if (ioctl(fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
    close(fd);
    return Error("/dev/net/tun: the host kernel's TAP has no virtio-net header support");
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  bool existed = name.find('%') == std::string::npos && interface_exists(name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int saved = errno;
    close(fd);
    if (saved == EPERM && !existed) {
      return Error("tap " + name + ": no such TAP device, and creating one needs CAP_NET_ADMIN");
    }
    if (saved == EPERM) {
      return Error("tap " + name +
                   ": permission denied (the TAP belongs to another user; 'ip tuntap add " + name +
                   " mode tap user USER' makes one a user may open)");
    }
    if (saved == EINVAL && existed) return Error("tap " + name + ": not a TAP device");
    if (saved == EBUSY) return Error("tap " + name + ": in use by another process");
    return Error("tap " + name + ": " + strerror(saved));
  }
  int header_size = static_cast<int>(kVnetHeaderSize);
  if (ioctl(fd, TUNSETVNETHDRSZ, &header_size) < 0) {
    std::string why = errno_text();
    close(fd);
    return Error("tap " + name + ": cannot set the virtio-net header size: " + why);
  }
  // No offloads towards the guest until it negotiates them.
  ioctl(fd, TUNSETOFFLOAD, 0);
  std::unique_ptr<TapBackend> tap(new TapBackend(fd, ifr.ifr_name));
  if (!tap->wakeup_.valid()) return Error("eventfd: " + errno_text());
  return tap;
}

Result<std::unique_ptr<TapBackend>> TapBackend::open_tap(const std::string& ifname) {
  return attach(ifname);
}

Result<std::unique_ptr<TapBackend>> TapBackend::open_bridge(const std::string& bridge) {
  if (!interface_exists(bridge)) return Error("bridge " + bridge + ": no such network interface");
  if (!is_bridge(bridge)) return Error("bridge " + bridge + ": not a bridge");
  // The kernel picks the first free name; the TAP lives as long as its fd.
  Result<std::unique_ptr<TapBackend>> tap = attach("vessel-tap%d");
  if (!tap) return Error("bridge " + bridge + ": " + tap.error().message());

  ifreq ifr{};
  std::strncpy(ifr.ifr_name, (*tap)->ifname_.c_str(), IFNAMSIZ - 1);
  TRY(interface_ioctl(SIOCGIFFLAGS, ifr, "SIOCGIFFLAGS"));
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  Result<void> up = interface_ioctl(SIOCSIFFLAGS, ifr, "bringing the TAP up");
  if (!up) return Error("bridge " + bridge + ": " + up.error().message());

  ifreq port{};
  std::strncpy(port.ifr_name, bridge.c_str(), IFNAMSIZ - 1);
  port.ifr_ifindex = static_cast<int>(if_nametoindex((*tap)->ifname_.c_str()));
  Result<void> added = interface_ioctl(SIOCBRADDIF, port, "adding the TAP to the bridge");
  if (!added) return Error("bridge " + bridge + ": " + added.error().message());
  return tap;
}

TapBackend::~TapBackend() {
  stop();
  close(fd_);
}

void TapBackend::start(FrameSink& sink) {
  sink_ = &sink;
  thread_ = std::thread([this] { run(); });
}

void TapBackend::stop() {
  stopping_.store(true);
  wakeup_.signal();
  if (thread_.joinable()) thread_.join();
}

void TapBackend::send(std::span<const iovec> pieces) {
  ssize_t n;
  do {
    n = writev(fd_, pieces.data(), static_cast<int>(pieces.size()));
  } while (n < 0 && errno == EINTR);
  // A full TAP queue (EAGAIN) or a TAP that is down (EIO): the frame is lost
  // as on a wire, and the guest's TCP retransmits.
  if (n < 0) dropped_.fetch_add(1, std::memory_order_relaxed);
}

void TapBackend::resume_receive() {
  gate_.resume();
  wakeup_.signal();
}

void TapBackend::set_offloads(const Offloads& offloads) {
  unsigned flags = 0;
  if (offloads.csum) {
    flags |= TUN_F_CSUM;
    if (offloads.tso4) flags |= TUN_F_TSO4;
    if (offloads.tso6) flags |= TUN_F_TSO6;
    if (offloads.ecn && (offloads.tso4 || offloads.tso6)) flags |= TUN_F_TSO_ECN;
  }
  if (ioctl(fd_, TUNSETOFFLOAD, flags) < 0) {
    LOG_WARN("tap %s: TUNSETOFFLOAD 0x%x: %s", ifname_.c_str(), flags, strerror(errno));
  }
}

void TapBackend::read_frames() {
  for (int i = 0; i < kReadBudget && !stopping_.load(std::memory_order_relaxed); ++i) {
    if (pending_ == 0) {
      ssize_t n = read(fd_, buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EAGAIN: empty
      pending_ = static_cast<size_t>(n);
      if (pending_ < kVnetHeaderSize) {  // cannot come from the kernel; never deliver it
        pending_ = 0;
        continue;
      }
    }
    uint64_t ticket = gate_.ticket();
    if (!sink_->deliver(std::span(buffer_).first(pending_))) {
      gate_.refused(ticket);
      return;
    }
    gate_.accepted();
    pending_ = 0;
  }
}

void TapBackend::run() {
  while (!stopping_.load()) {
    bool blocked = gate_.closed();
    pollfd fds[2] = {{wakeup_.fd(), POLLIN, 0}, {fd_, static_cast<short>(blocked ? 0 : POLLIN), 0}};
    // A refused frame whose gate reopened: retry at once.
    int timeout = (!blocked && pending_ > 0) ? 0 : -1;
    if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
      LOG_ERROR("tap %s: poll: %s", ifname_.c_str(), strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) wakeup_.drain();
    if (!gate_.closed()) read_frames();
  }
}

}  // namespace vessel::net

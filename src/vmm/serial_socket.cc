#include "vmm/serial_socket.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "vmm/unix_listener.h"

namespace vessel::vmm {
namespace {

// QEMU's socket chardev listens with a backlog of 1 (qio_net_listener_open_sync).
constexpr int kBacklog = 1;
// How long the destructor keeps sending what is buffered (the guest's last
// words before a poweroff).
constexpr auto kFinalFlush = std::chrono::seconds(1);
// While the UART's receive FIFO is full, input waits in the socket; check
// back this often (as the stdin console does).
constexpr int kInputRetryMs = 10;
constexpr size_t kChunk = 4096;

}  // namespace

Result<std::unique_ptr<SerialSocket>> SerialSocket::listen(const std::string& path, Input input) {
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return Error(std::string("serial: eventfd: ") + strerror(errno));
  Result<int> listen_fd = listen_unix(path, kBacklog, kMode);
  if (!listen_fd) {
    close(wake_fd);
    return listen_fd.error();
  }
  std::unique_ptr<SerialSocket> socket(
      new SerialSocket(*listen_fd, wake_fd, path, std::move(input)));
  socket->thread_ = std::thread([s = socket.get()] { s->run(); });
  return socket;
}

SerialSocket::SerialSocket(int listen_fd, int wake_fd, std::string path, Input input)
    : listen_fd_(listen_fd), wake_fd_(wake_fd), path_(std::move(path)), input_(std::move(input)) {}

SerialSocket::~SerialSocket() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  connected_cv_.notify_all();
  wake();
  thread_.join();
  auto deadline = std::chrono::steady_clock::now() + kFinalFlush;
  while (client_fd_ >= 0 && !output_.empty() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{client_fd_, POLLOUT, 0};
    if (poll(&p, 1, 100) > 0) flush();
  }
  if (client_fd_ >= 0) disconnect();
  close(listen_fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void SerialSocket::wait_for_client(const std::function<bool()>& give_up) {
  std::unique_lock lock(mutex_);
  while (!ever_connected_ && !stopping_ && !give_up()) {
    connected_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

void SerialSocket::write(uint8_t byte) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    if (!connected_) return;
    if (output_.size() >= kOutputLimit) {
      ++dropped_;
      return;
    }
    was_empty = output_.empty();
    output_.push_back(static_cast<char>(byte));
  }
  // The I/O thread sends until the buffer is empty: only the first byte
  // after that needs to wake it.
  if (was_empty) wake();
}

uint64_t SerialSocket::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void SerialSocket::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void SerialSocket::run() {
  for (;;) {
    bool has_output;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      has_output = !output_.empty();
    }
    bool connected = client_fd_ >= 0;
    size_t space = connected ? input_.space() : 0;
    auto events = static_cast<short>((space > 0 ? POLLIN : 0) | (has_output ? POLLOUT : 0));
    // Only one client at a time: the next waits in the backlog meanwhile.
    pollfd fds[3] = {{wake_fd_, POLLIN, 0},
                     {connected ? -1 : listen_fd_, POLLIN, 0},
                     {events != 0 ? client_fd_ : -1, events, 0}};
    if (poll(fds, 3, connected && space == 0 ? kInputRetryMs : -1) < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("serial: poll: %s", strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
    }
    if (fds[1].revents & POLLIN) accept_client();
    short revents = fds[2].revents;
    if (revents & POLLOUT) flush();
    if (client_fd_ < 0) continue;
    if (space > 0 && (revents & (POLLIN | POLLHUP | POLLERR))) {
      read_client(space);
    } else if (revents & (POLLHUP | POLLERR)) {
      disconnect();
    }
  }
}

void SerialSocket::accept_client() {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  std::lock_guard lock(mutex_);
  client_fd_ = fd;
  connected_ = true;
  ever_connected_ = true;
  connected_cv_.notify_all();
}

void SerialSocket::read_client(size_t space) {
  uint8_t buffer[256];
  ssize_t n = read(client_fd_, buffer, std::min(sizeof buffer, space));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    disconnect();  // the guest runs on; the next client is accepted
    return;
  }
  for (ssize_t i = 0; i < n; ++i) input_.byte(buffer[i]);
}

void SerialSocket::flush() {
  for (;;) {
    std::string chunk;
    {
      std::lock_guard lock(mutex_);
      chunk = output_.substr(0, kChunk);
    }
    if (chunk.empty()) return;
    ssize_t n = send(client_fd_, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno != EAGAIN) disconnect();
      return;
    }
    std::lock_guard lock(mutex_);
    output_.erase(0, static_cast<size_t>(n));
  }
}

void SerialSocket::disconnect() {
  std::lock_guard lock(mutex_);
  close(client_fd_);
  client_fd_ = -1;
  connected_ = false;
  output_.clear();  // it was that client's
  if (dropped_ > dropped_reported_) {
    LOG_WARN("serial: %llu bytes of guest output dropped: the console client read too slowly",
             static_cast<unsigned long long>(dropped_ - dropped_reported_));
    dropped_reported_ = dropped_;
  }
}

}  // namespace vessel::vmm

#include "daemon/qmp_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace vessel::daemon {
namespace {

// A VM sends small JSON objects; anything larger is not QMP.
constexpr size_t kMaxLine = 16 << 20;

}  // namespace

Result<std::unique_ptr<QmpClient>> QmpClient::connect(const std::string& path,
                                                      EventHandler on_event,
                                                      CloseHandler on_close) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return Error(path + ": socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    Error error(path + ": " + std::strerror(errno));
    ::close(fd);
    return error;
  }
  // The greeting and the negotiation must not hang the daemon on a VM that
  // accepted but never speaks.
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::unique_ptr<QmpClient> client(new QmpClient(fd));
  TRY_ASSIGN(nlohmann::json greeting, client->read_message());
  if (!greeting.contains("QMP")) return Error(path + ": not a QMP greeting");
  TRY(client->send_line(R"({"execute":"qmp_capabilities"})"));
  TRY_ASSIGN(nlohmann::json negotiated, client->read_message());
  if (!negotiated.contains("return")) return Error(path + ": qmp_capabilities refused");
  timeout = {0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  client->on_event_ = std::move(on_event);
  client->on_close_ = std::move(on_close);
  client->reader_ = std::thread([c = client.get()] { c->read_loop(); });
  return client;
}

QmpClient::~QmpClient() {
  ::shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  ::close(fd_);
}

Result<nlohmann::json> QmpClient::read_message() {
  for (;;) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
      if (message.is_discarded() || !message.is_object()) return Error("malformed QMP message");
      return message;
    }
    if (buffer_.size() > kMaxLine) return Error("QMP message too long");
    char chunk[4096];
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error("the VM's control socket closed");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

Result<void> QmpClient::send_line(const std::string& line) {
  std::string data = line + "\n";
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error("the VM's control socket closed");
    sent += static_cast<size_t>(n);
  }
  return Ok();
}

void QmpClient::read_loop() {
  for (;;) {
    auto message = read_message();
    if (!message.ok()) break;
    if (message->contains("event")) {
      const nlohmann::json& event = (*message)["event"];
      if (event.is_string() && on_event_) {
        on_event_(event.get<std::string>(), message->value("data", nlohmann::json::object()));
      }
      continue;
    }
    std::lock_guard lock(mutex_);
    reply_ = std::move(*message);
    replied_.notify_all();
  }
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    replied_.notify_all();
  }
  if (on_close_) on_close_();
}

bool QmpClient::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return replied_.wait_for(lock, timeout, [&] { return closed_; });
}

Result<nlohmann::json> QmpClient::execute(const std::string& command,
                                          const nlohmann::json& arguments,
                                          std::chrono::milliseconds timeout) {
  std::lock_guard command_lock(command_mutex_);
  nlohmann::json request = {{"execute", command}};
  if (!arguments.empty()) request["arguments"] = arguments;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return Error("the VM's control socket closed");
    reply_.reset();
  }
  TRY(send_line(request.dump()));
  std::unique_lock lock(mutex_);
  if (!replied_.wait_for(lock, timeout, [&] { return reply_.has_value() || closed_; })) {
    return Error("the VM did not answer '" + command + "'");
  }
  if (!reply_) return Error("the VM's control socket closed");
  nlohmann::json reply = std::move(*reply_);
  reply_.reset();
  if (reply.contains("error")) {
    return Error(reply["error"].value("desc", std::string("QMP error")));
  }
  return reply.value("return", nlohmann::json::object());
}

Result<void> wait_for_migration(QmpClient& qmp) {
  using namespace std::chrono_literals;
  auto deadline = std::chrono::steady_clock::now() + 30min;
  while (std::chrono::steady_clock::now() < deadline) {
    TRY_ASSIGN(nlohmann::json status, qmp.execute("query-migrate"));
    std::string state = status.value("status", "");
    if (state == "completed") return Ok();
    if (state == "failed" || state == "cancelled") {
      return Error("migration failed: " + status.value("error-desc", state));
    }
    std::this_thread::sleep_for(20ms);
  }
  return Error("migration did not finish");
}

}  // namespace vessel::daemon

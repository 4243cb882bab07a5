#include "vmm/qmp_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "vmm/unix_listener.h"

namespace vessel::vmm {
namespace {

// A client that reads nothing while replies and events pile up is dropped
// rather than let it grow the VMM's memory without bound.
constexpr size_t kMaxQueuedOutput = 16 << 20;
// How long the destructor keeps sending what is queued (the SHUTDOWN event).
constexpr auto kFinalFlush = std::chrono::seconds(1);

Json timestamp() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  return {{"seconds", us / 1'000'000}, {"microseconds", us % 1'000'000}};
}

// The greeting names the QEMU release whose QMP this follows.
Json greeting() {
  return {
      {"QMP",
       {{"version", {{"qemu", {{"micro", 0}, {"minor", 2}, {"major", 7}}}, {"package", "vessel"}}},
        {"capabilities", Json::array()}}}};
}

}  // namespace

Json qmp_error(const std::string& error_class, const std::string& desc) {
  return {{"error", {{"class", error_class}, {"desc", desc}}}};
}

struct QmpServer::Session {
  int fd = -1;
  JsonStream input;
  std::string output;
  bool negotiated = false;
  bool broken = false;
};

Result<std::unique_ptr<QmpServer>> QmpServer::listen(const std::string& path, Dispatcher dispatch) {
  std::unique_ptr<QmpServer> server(new QmpServer());
  server->dispatch_ = std::move(dispatch);
  server->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->wake_fd_ < 0) return Error(std::string("--qmp: ") + strerror(errno));
  TRY_ASSIGN(server->listen_fd_, listen_unix(path, 8));
  server->path_ = path;  // ours to remove from now on
  server->thread_ = std::thread([s = server.get()] { s->run(); });
  return server;
}

QmpServer::~QmpServer() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    connected_cv_.notify_all();
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  auto deadline = std::chrono::steady_clock::now() + kFinalFlush;
  for (auto& s : sessions_) {
    while (!s->output.empty() && !s->broken && std::chrono::steady_clock::now() < deadline) {
      pollfd p{s->fd, POLLOUT, 0};
      if (poll(&p, 1, 100) > 0) flush(*s);
    }
    close(s->fd);
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (!path_.empty()) unlink(path_.c_str());
}

void QmpServer::wait_for_client(const std::function<bool()>& give_up) {
  std::unique_lock lock(mutex_);
  while (!ever_connected_ && !stopping_ && !give_up()) {
    connected_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

void QmpServer::emit(const std::string& event, const Json& data) {
  Json message = {{"event", event}, {"timestamp", timestamp()}};
  if (!data.is_null()) message["data"] = data;
  {
    std::lock_guard lock(mutex_);
    for (auto& s : sessions_) {
      if (s->negotiated) queue(*s, message);
    }
  }
  uint64_t one = 1;  // the loop then waits for POLLOUT where output is left
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void QmpServer::queue(Session& session, const Json& message) {
  if (session.broken) return;
  // Invalid UTF-8 from a client comes back replaced, never as an exception.
  session.output += message.dump(-1, ' ', false, Json::error_handler_t::replace);
  session.output += "\r\n";
  if (session.output.size() > kMaxQueuedOutput) session.broken = true;
  flush(session);
}

void QmpServer::flush(Session& session) {
  while (!session.output.empty() && !session.broken) {
    ssize_t n =
        send(session.fd, session.output.data(), session.output.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      session.output.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0 && errno != EAGAIN) session.broken = true;
      return;
    }
  }
}

void QmpServer::accept_client() {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  auto session = std::make_unique<Session>();
  session->fd = fd;
  std::lock_guard lock(mutex_);
  queue(*session, greeting());
  sessions_.push_back(std::move(session));
  ever_connected_ = true;
  connected_cv_.notify_all();
}

bool QmpServer::read_client(Session& session) {
  char buf[65536];
  ssize_t n = read(session.fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) return false;
  for (const JsonStream::Text& text : session.input.feed(std::string_view(buf, n))) {
    Json reply = handle(session, text);
    std::lock_guard lock(mutex_);
    queue(session, reply);
  }
  return true;
}

// QMP's own rules (qmp-spec.txt): the shape of a command, negotiation first.
Json QmpServer::handle(Session& session, const JsonStream::Text& text) {
  if (text.too_long) return qmp_error("GenericError", "JSON message too long");
  Json input = Json::parse(text.json, nullptr, /*allow_exceptions=*/false);
  if (input.is_discarded()) return qmp_error("GenericError", "JSON parse error");
  if (!input.is_object()) return qmp_error("GenericError", "QMP input must be a JSON object");

  Json reply;
  std::string name;
  Json arguments = Json::object();
  for (const auto& [key, value] : input.items()) {
    if (key == "execute") {
      if (!value.is_string()) {
        reply = qmp_error("GenericError", "QMP input member 'execute' must be a string");
        break;
      }
      name = value.get<std::string>();
    } else if (key == "arguments") {
      if (!value.is_object()) {
        reply = qmp_error("GenericError", "QMP input member 'arguments' must be an object");
        break;
      }
      arguments = value;
    } else if (key != "id") {
      reply = qmp_error("GenericError", "QMP input member '" + key + "' is unexpected");
      break;
    }
  }
  if (reply.is_null() && name.empty() && !input.contains("execute")) {
    reply = qmp_error("GenericError", "QMP input lacks member 'execute'");
  }
  if (reply.is_null()) {
    if (name == "qmp_capabilities") {
      if (session.negotiated) {
        reply = qmp_error("CommandNotFound",
                          "Capabilities negotiation is already complete, command ignored");
      } else if (arguments.contains("enable") && !arguments["enable"].empty()) {
        reply = qmp_error("GenericError", "This server offers no capabilities to enable");
      } else if (arguments.size() > arguments.count("enable")) {
        reply =
            qmp_error("GenericError", "Parameter '" + arguments.begin().key() + "' is unexpected");
      } else {
        std::lock_guard lock(mutex_);  // emit() reads it
        session.negotiated = true;
        reply = {{"return", Json::object()}};
      }
    } else if (!session.negotiated) {
      reply = qmp_error("CommandNotFound",
                        "Expecting capabilities negotiation with 'qmp_capabilities'");
    } else {
      reply = dispatch_(name, arguments);
    }
  }
  if (input.contains("id")) reply["id"] = input["id"];
  return reply;
}

void QmpServer::run() {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Session*> who;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      fds.push_back({wake_fd_, POLLIN, 0});
      fds.push_back({listen_fd_, POLLIN, 0});
      for (auto& s : sessions_) {
        fds.push_back({s->fd, static_cast<short>(POLLIN | (s->output.empty() ? 0 : POLLOUT)), 0});
        who.push_back(s.get());
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      LOG_ERROR("qmp: poll: %s", strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
    }
    if (fds[1].revents & POLLIN) accept_client();
    for (size_t i = 0; i < who.size(); ++i) {
      Session& s = *who[i];
      short revents = fds[i + 2].revents;
      if (revents & POLLOUT) {
        std::lock_guard lock(mutex_);
        flush(s);
      }
      if ((revents & (POLLIN | POLLHUP | POLLERR)) && !read_client(s)) s.broken = true;
    }
    std::lock_guard lock(mutex_);
    sessions_.remove_if([](const std::unique_ptr<Session>& s) {
      if (s->broken) close(s->fd);
      return s->broken;
    });
  }
}

}  // namespace vessel::vmm

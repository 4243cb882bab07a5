// The daemon's side of a VM's QMP control socket: one connection per
// running VM, kept open for its whole life. A reader thread hands replies
// to the caller of execute() and events to a handler; the socket closing is
// how the daemon learns that the VM process ended.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "base/result.h"

namespace vessel::daemon {

class QmpClient {
 public:
  using EventHandler = std::function<void(const std::string& event, const nlohmann::json& data)>;
  using CloseHandler = std::function<void()>;

  // Connects, reads the greeting and negotiates capabilities. The handlers
  // run on the reader thread; on_close runs once, when the socket closes.
  static Result<std::unique_ptr<QmpClient>> connect(const std::string& path, EventHandler on_event,
                                                    CloseHandler on_close);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Runs one command and returns its "return" value; a QMP error, a closed
  // socket or no answer within `timeout` is an error.
  // Waits until the VM has closed the socket (all its events delivered);
  // false if it has not within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);

  Result<nlohmann::json> execute(const std::string& command,
                                 const nlohmann::json& arguments = nlohmann::json::object(),
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  explicit QmpClient(int fd) : fd_(fd) {}
  Result<nlohmann::json> read_message();
  Result<void> send_line(const std::string& line);
  void read_loop();

  int fd_;
  std::string buffer_;
  EventHandler on_event_;
  CloseHandler on_close_;
  std::thread reader_;

  std::mutex command_mutex_;  // one command in flight
  std::mutex mutex_;
  std::condition_variable replied_;
  std::optional<nlohmann::json> reply_;
  bool closed_ = false;
};

// Polls query-migrate until the VM's outgoing migration (a save, a live
// migration) has ended: Ok once "completed", the VM's reason otherwise.
Result<void> wait_for_migration(QmpClient& qmp);

}  // namespace vessel::daemon

// The server side of QMP, QEMU's machine protocol, on a Unix stream socket
// (`vessel run --qmp unix:PATH,server,wait=off`): per client the greeting,
// capabilities negotiation, commands answered in order with their "id", and
// events. Message framing and the protocol's own errors live here; what a
// command does is the Dispatcher's (qmp_commands.h).
//
// One thread polls the listening socket and every client; commands run on
// it one at a time. Events may be emitted from any thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/result.h"
#include "vmm/json_stream.h"

namespace vessel::vmm {

using Json = nlohmann::json;

// A QMP error reply: {"error": {"class": …, "desc": …}}.
Json qmp_error(const std::string& error_class, const std::string& desc);

class QmpServer {
 public:
  // Runs command `name` with its arguments (an object, maybe empty);
  // returns {"return": …} or a qmp_error().
  using Dispatcher = std::function<Json(const std::string& name, const Json& arguments)>;

  // Listens on `path` (an old socket file there is replaced, as QEMU does).
  static Result<std::unique_ptr<QmpServer>> listen(const std::string& path, Dispatcher dispatch);
  // Sends what is still queued (for a moment), closes every connection and
  // removes the socket file.
  ~QmpServer();
  QmpServer(const QmpServer&) = delete;
  QmpServer& operator=(const QmpServer&) = delete;

  // Blocks until a client has connected (QEMU's `wait=on`), or give_up()
  // (checked every 100 ms) says the VM is being stopped.
  void wait_for_client(const std::function<bool()>& give_up);
  // Sends an event to every client past negotiation. Thread-safe.
  void emit(const std::string& event, const Json& data = nullptr);

 private:
  struct Session;
  QmpServer() = default;
  void run();
  void accept_client();
  bool read_client(Session& session);
  Json handle(Session& session, const JsonStream::Text& text);
  void queue(Session& session, const Json& message);  // with mutex_ held
  void flush(Session& session);                       // with mutex_ held

  std::string path_;
  Dispatcher dispatch_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mutex_;  // guards sessions_' membership and output buffers
  std::condition_variable connected_cv_;
  bool ever_connected_ = false;
  std::list<std::unique_ptr<Session>> sessions_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vessel::vmm

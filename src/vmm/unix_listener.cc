#include "vmm/unix_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vessel::vmm {

Result<int> listen_unix(const std::string& path, int backlog, std::optional<mode_t> mode) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Error("socket path '" + path + "' is empty or longer than " +
                 std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error(path + ": socket: " + strerror(errno));
  unlink(path.c_str());
  bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  // A bound socket refuses connections until listen(): changing the mode in
  // between leaves no moment where another user could connect.
  if (!bound || (mode && chmod(path.c_str(), *mode) != 0) || ::listen(fd, backlog) != 0) {
    std::string why = strerror(errno);
    close(fd);
    if (bound) unlink(path.c_str());
    return Error(path + ": " + why);
  }
  return fd;
}

}  // namespace vessel::vmm

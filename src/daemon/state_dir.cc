#include "daemon/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vessel::daemon {
namespace {

Error system_error(const std::string& what, const std::string& path) {
  return Error(what + " " + path + ": " + std::strerror(errno));
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Result<void> sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return system_error("cannot open", dir);
  int status = ::fsync(fd);
  ::close(fd);
  if (status != 0) return system_error("cannot sync", dir);
  return Ok();
}

Result<void> make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return system_error("cannot create", path);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(path + ": not a directory");
  }
  return Ok();
}

}  // namespace

Result<void> write_file_atomically(const std::string& path, const std::string& contents) {
  const std::string temporary = path + ".new";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return system_error("cannot create", temporary);
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error error = system_error("cannot write", temporary);
      ::close(fd);
      ::unlink(temporary.c_str());
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Error error = system_error("cannot sync", temporary);
    ::close(fd);
    ::unlink(temporary.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    Error error = system_error("cannot rename to", path);
    ::unlink(temporary.c_str());
    return error;
  }
  return sync_directory(parent_of(path));
}

Result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return system_error("cannot read", path);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

Result<void> remove_file_durably(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Ok();
    return system_error("cannot remove", path);
  }
  return sync_directory(parent_of(path));
}

Result<void> ensure_directory(const std::string& path) {
  return make_directory(path);
}

Result<StateDir> StateDir::open(const std::string& root) {
  TRY(make_directory(root));
  for (const char* sub : {"/domains", "/autostart", "/run", "/log", "/networks",
                          "/networks/autostart", "/run/networks", "/save", "/pools"}) {
    TRY(make_directory(root + sub));
  }
  return StateDir(root);
}

std::string StateDir::definition(const std::string& name) const {
  return root_ + "/domains/" + name + ".xml";
}
std::string StateDir::autostart_mark(const std::string& name) const {
  return root_ + "/autostart/" + name;
}
std::string StateDir::run_record(const std::string& name) const {
  return root_ + "/run/" + name + ".json";
}
std::string StateDir::control_socket(const std::string& name) const {
  return root_ + "/run/" + name + ".qmp";
}
std::string StateDir::serial_socket(const std::string& name) const {
  return root_ + "/run/" + name + ".serial";
}
std::string StateDir::log_file(const std::string& name) const {
  return root_ + "/log/" + name + ".log";
}

std::string StateDir::console_log(const std::string& name) const {
  return root_ + "/log/" + name + ".console";
}

std::string StateDir::network_definition(const std::string& name) const {
  return root_ + "/networks/" + name + ".xml";
}
std::string StateDir::network_autostart_mark(const std::string& name) const {
  return root_ + "/networks/autostart/" + name;
}
std::string StateDir::active_network(const std::string& name) const {
  return root_ + "/run/networks/" + name + ".xml";
}

std::string StateDir::managed_save(const std::string& name) const {
  return root_ + "/save/" + name + ".save";
}
std::string StateDir::pool_definition(const std::string& name) const {
  return root_ + "/pools/" + name + ".xml";
}
std::string StateDir::pool_autostart_mark(const std::string& name) const {
  return root_ + "/pools/" + name + ".autostart";
}
std::string StateDir::pool_active_mark(const std::string& name) const {
  return root_ + "/pools/" + name + ".active";
}

std::string StateDir::snapshot_dir(const std::string& name) const {
  return root_ + "/snapshots/" + name;
}

std::vector<std::string> StateDir::names_in(const std::string& subdir,
                                            const std::string& suffix) const {
  std::vector<std::string> names;
  DIR* dir = ::opendir((root_ + "/" + subdir).c_str());
  if (dir == nullptr) return names;
  while (dirent* entry = ::readdir(dir)) {
    std::string file = entry->d_name;
    if (file.size() > suffix.size() && file[0] != '.' &&
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(file.substr(0, file.size() - suffix.size()));
    }
  }
  ::closedir(dir);
  return names;
}

std::vector<std::string> StateDir::defined_names() const {
  return names_in("domains", ".xml");
}
std::vector<std::string> StateDir::running_names() const {
  return names_in("run", ".json");
}
std::vector<std::string> StateDir::network_names() const {
  return names_in("networks", ".xml");
}
std::vector<std::string> StateDir::active_network_names() const {
  return names_in("run/networks", ".xml");
}
std::vector<std::string> StateDir::pool_names() const {
  return names_in("pools", ".xml");
}
std::vector<std::string> StateDir::snapshot_names(const std::string& name) const {
  return names_in("snapshots/" + name, ".xml");
}

}  // namespace vessel::daemon

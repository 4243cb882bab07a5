#include "daemon/socket_paths.h"

#include <unistd.h>

#include <cstdlib>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

std::string runtime_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] != '\0') return std::string(xdg) + "/libvirt";
  return "/run/user/" + std::to_string(::geteuid()) + "/libvirt";
}

// %XX escapes, as a URI may carry them in a socket path.
std::string unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      char* end = nullptr;
      std::string hex = text.substr(i + 1, 2);
      long value = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(value);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace

std::string default_socket(bool session, const std::string& daemon) {
  return (session ? runtime_dir() : std::string("/run/libvirt")) + "/" + daemon + "-sock";
}

Result<LocalUri> parse_local_uri(const std::string& uri) {
  auto invalid = [&uri](const std::string& why) {
    return virt_error::make(virt_error::kInvalidArg, "connection URI '" + uri + "': " + why);
  };
  size_t colon = uri.find("://");
  if (colon == std::string::npos) return invalid("not a URI");
  std::string scheme = uri.substr(0, colon);
  std::string driver = scheme.substr(0, scheme.find('+'));
  std::string transport = scheme.size() > driver.size() ? scheme.substr(driver.size() + 1) : "";
  if (driver != "vessel" && driver != "qemu") return invalid("not a vessel:// URI");
  if (!transport.empty() && transport != "unix") {
    return virt_error::make(virt_error::kNoSupport,
                            "connection URI '" + uri + "': the " + transport +
                                " transport (only local daemons, through their Unix sockets)");
  }
  std::string rest = uri.substr(colon + 3);
  size_t slash = rest.find('/');
  if (slash != 0) return invalid("a remote host needs a transport Vessel does not have");
  size_t question = rest.find('?');
  std::string path = rest.substr(0, question);
  if (path != "/system" && path != "/session")
    return invalid("the path must be /system or /session");
  LocalUri local;
  local.name = driver + "://" + path;
  local.socket =
      default_socket(path == "/session", driver == "vessel" ? "virtvesseld" : "virtqemud");
  if (question != std::string::npos) {
    std::string query = rest.substr(question + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t end = query.find('&', start);
      if (end == std::string::npos) end = query.size();
      std::string pair = query.substr(start, end - start);
      if (pair.rfind("socket=", 0) == 0) local.socket = unescape(pair.substr(7));
      start = end + 1;
    }
  }
  return local;
}

}  // namespace vessel::daemon

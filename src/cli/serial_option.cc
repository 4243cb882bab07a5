#include "cli/serial_option.h"

#include "cli/unix_server_option.h"

namespace vessel::cli {

Result<vmm::SerialTarget> parse_serial(std::string_view text) {
  using Kind = vmm::SerialTarget::Kind;
  vmm::SerialTarget target;
  if (text == "stdio") {
    target.kind = Kind::kStdout;
    return target;
  }
  if (text.starts_with("file:") && text.size() > 5) {
    target.kind = Kind::kFile;
    target.path = text.substr(5);
    return target;
  }
  if (!text.starts_with("unix:")) {
    return Error("'" + std::string(text) +
                 "' is not 'stdio', 'file:PATH' or 'unix:PATH,server,wait=off'");
  }
  target.kind = Kind::kSocket;
  // QEMU's chardev options for a copy of the output in a file.
  auto log_option = [&target](const SubOption& option) -> Result<bool> {
    if (option.key == "logfile" && option.value) {
      if (option.value->empty()) return Error("logfile= needs a path");
      target.logfile = std::string(*option.value);
      return true;
    }
    if (option.key == "logappend" && option.value) {
      TRY_ASSIGN(target.log_append, parse_on_off(option.key, *option.value));
      return true;
    }
    return false;
  };
  TRY_ASSIGN(
      UnixServerOption socket,
      parse_unix_server(text, "server, wait=on|off, logfile=PATH, logappend=on|off", log_option));
  target.path = std::move(socket.path);
  target.wait = socket.wait;
  return target;
}

}  // namespace vessel::cli

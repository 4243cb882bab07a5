#include "cli/unix_server_option.h"

namespace vessel::cli {

Result<UnixServerOption> parse_unix_server(std::string_view text, std::string_view expected,
                                           const ExtraOption& extra) {
  if (!text.starts_with("unix:")) {
    return Error("'" + std::string(text) + "' is not unix:PATH,server,wait=off");
  }
  OptionList list = split_option_list(text.substr(5));
  UnixServerOption socket{std::string(list.head), true};
  bool server = false;
  for (const SubOption& option : list.items) {
    if (option.key == "server") {
      server = true;
      if (option.value) {
        TRY_ASSIGN(server, parse_on_off(option.key, *option.value));
      }
    } else if (option.key == "wait" && option.value) {
      TRY_ASSIGN(socket.wait, parse_on_off(option.key, *option.value));
    } else if (option.text == "nowait") {
      socket.wait = false;
    } else {
      bool taken = false;
      if (extra) {
        TRY_ASSIGN(taken, extra(option));
      }
      if (!taken) {
        return Error("unknown option '" + option.text + "' (expected " + std::string(expected) +
                     ")");
      }
    }
  }
  if (socket.path.empty()) return Error("missing socket path after unix:");
  if (!server) return Error("Vessel only listens: add ',server' (and ',wait=off' not to wait)");
  return socket;
}

}  // namespace vessel::cli

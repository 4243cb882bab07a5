#include "cli/default_guest.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

namespace vessel::cli {
namespace {

// The source tree this binary was built from: the build may define it, else
// it is where this file lives (compilers see absolute paths under CMake).
std::string source_dir() {
#ifdef VESSEL_SOURCE_DIR
  return VESSEL_SOURCE_DIR;
#else
  constexpr std::string_view kThisFile = __FILE__;
  constexpr std::string_view kSuffix = "src/cli/default_guest.cc";
  if (kThisFile.ends_with(kSuffix)) {
    return std::string(kThisFile.substr(0, kThisFile.size() - kSuffix.size()));
  }
  return "";
#endif
}

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The command line file holds one line; trailing newlines and spaces go.
std::string read_cmdline(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string line = text.str();
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  for (char& c : line) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return line;
}

}  // namespace

std::string default_guest_dir() {
  if (const char* env = std::getenv("VESSEL_GUEST_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return source_dir() + "guest/out";
}

Result<DefaultGuest> find_default_guest() {
  const std::string dir = default_guest_dir();
  DefaultGuest guest;
  guest.kernel = dir + "/Image";
  guest.initrd = dir + "/initramfs.cpio.gz";
  for (const std::string& required : {guest.kernel, guest.initrd}) {
    if (!is_file(required)) {
      return Error("the default guest is not built (" + required +
                   " is missing): run 'make -C guest', set VESSEL_GUEST_DIR, or pass --kernel");
    }
  }
  if (std::string disk = dir + "/disk.ext4"; is_file(disk)) guest.disk = disk;
  guest.cmdline = "console=ttyS0";
  if (std::string cmdline = dir + "/cmdline"; is_file(cmdline)) {
    guest.cmdline = read_cmdline(cmdline);
  }
  return guest;
}

}  // namespace vessel::cli

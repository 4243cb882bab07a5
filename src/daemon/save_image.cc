#include "daemon/save_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace vessel::daemon {
namespace {

constexpr const char* kMagic = "vessel-domain-save 1";
constexpr uint64_t kMaxXml = 4 << 20;  // the protocol's string limit

}  // namespace

Result<void> write_save_header(const std::string& path, const std::string& xml) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error(path + ": " + std::strerror(errno));
  std::string header = std::string(kMagic) + "\n" + std::to_string(xml.size()) + "\n" + xml;
  bool written = ::write(fd, header.data(), header.size()) == static_cast<ssize_t>(header.size());
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) return Error(path + ": cannot write the save header");
  return Ok();
}

Result<SaveImageHeader> read_save_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(path + ": " + std::strerror(errno));
  std::string magic, length_text;
  if (!std::getline(in, magic) || magic != kMagic) {
    return Error(path + ": not a Vessel domain save image");
  }
  if (!std::getline(in, length_text) || length_text.empty() || length_text.size() > 8 ||
      length_text.find_first_not_of("0123456789") != std::string::npos) {
    return Error(path + ": corrupt save image header");
  }
  uint64_t length = std::stoull(length_text);
  if (length == 0 || length > kMaxXml) return Error(path + ": corrupt save image header");
  SaveImageHeader header;
  header.xml.resize(length);
  if (!in.read(header.xml.data(), static_cast<std::streamsize>(length))) {
    return Error(path + ": truncated save image");
  }
  header.state_offset = magic.size() + 1 + length_text.size() + 1 + length;
  return header;
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace vessel::daemon

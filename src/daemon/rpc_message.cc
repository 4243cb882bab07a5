#include "daemon/rpc_message.h"

#include <unistd.h>

#include <array>
#include <cerrno>

#include "daemon/virt_error.h"

namespace vessel::daemon::rpc {

Result<uint32_t> parse_length(std::span<const uint8_t, kLengthSize> prefix) {
  XdrReader reader(prefix);
  uint32_t length = reader.u32();
  if (length < kLengthSize + kHeaderSize || length > kMessageMax) {
    return Error("message length " + std::to_string(length) + " is outside the protocol's bounds");
  }
  return length;
}

Result<Header> parse_header(XdrReader& reader) {
  Header header;
  header.program = reader.u32();
  header.version = reader.u32();
  header.procedure = reader.i32();
  uint32_t type = reader.u32();
  header.serial = reader.u32();
  uint32_t status = reader.u32();
  if (!reader.ok()) return Error("truncated message header");
  if (type > static_cast<uint32_t>(Type::kStreamHole)) {
    return Error("unknown message type " + std::to_string(type));
  }
  if (status > static_cast<uint32_t>(Status::kContinue)) {
    return Error("unknown message status " + std::to_string(status));
  }
  header.type = static_cast<Type>(type);
  header.status = static_cast<Status>(status);
  return header;
}

XdrWriter begin_message(const Header& header) {
  XdrWriter writer;
  writer.u32(0);  // the length, patched by finish()
  writer.u32(header.program);
  writer.u32(header.version);
  writer.i32(header.procedure);
  writer.u32(static_cast<uint32_t>(header.type));
  writer.u32(header.serial);
  writer.u32(static_cast<uint32_t>(header.status));
  return writer;
}

std::vector<uint8_t> finish(XdrWriter& writer) {
  writer.patch_u32(0, static_cast<uint32_t>(writer.size()));
  return writer.bytes();
}

void write_error(XdrWriter& writer, int code, int source, const std::string& message) {
  constexpr int kLevelError = 2;
  writer.i32(code);
  writer.i32(source);
  writer.optional_string(message);
  writer.i32(kLevelError);
  writer.boolean(false);  // domain
  writer.boolean(false);  // str1
  writer.boolean(false);  // str2
  writer.boolean(false);  // str3
  writer.i32(0);          // int1
  writer.i32(0);          // int2
  writer.boolean(false);  // network
}

Error read_error(XdrReader& reader) {
  int code = reader.i32();
  reader.i32();  // the source
  std::optional<std::string> message = reader.optional_string(kStringMax);
  if (!reader.ok()) return Error("a malformed error reply", virt_error::kRpc);
  return Error(message.value_or("unknown error"), code);
}

Result<std::vector<uint8_t>> read_message(int fd) {
  auto read_exactly = [fd](uint8_t* out, size_t length) {
    while (length > 0) {
      ssize_t n = ::read(fd, out, length);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      out += n;
      length -= static_cast<size_t>(n);
    }
    return true;
  };
  std::array<uint8_t, kLengthSize> prefix;
  if (!read_exactly(prefix.data(), prefix.size())) return Error(kConnectionClosed);
  TRY_ASSIGN(uint32_t length, parse_length(prefix));
  std::vector<uint8_t> message(length - kLengthSize);
  if (!read_exactly(message.data(), message.size())) return Error(kConnectionClosed);
  return message;
}

}  // namespace vessel::daemon::rpc

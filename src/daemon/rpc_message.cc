#include "daemon/rpc_message.h"

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

}  // namespace vessel::daemon::rpc

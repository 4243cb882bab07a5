// libvirt's remote protocol framing: every message is
//   [u32 total length, itself included][24-byte header][XDR payload].
// Replies repeat the program, version, procedure and serial of their call.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/xdr.h"

namespace vessel::daemon::rpc {

inline constexpr uint32_t kRemoteProgram = 0x20008086;
inline constexpr uint32_t kRemoteVersion = 1;
inline constexpr uint32_t kKeepaliveProgram = 0x6b656570;
inline constexpr uint32_t kKeepaliveVersion = 1;
inline constexpr int32_t kKeepalivePing = 1;
inline constexpr int32_t kKeepalivePong = 2;

// The protocol's limits: a whole message, and any one string in it.
inline constexpr uint32_t kMessageMax = 33554432;
inline constexpr uint32_t kStringMax = 4194304;
inline constexpr uint32_t kHeaderSize = 24;
inline constexpr uint32_t kLengthSize = 4;

enum class Type : uint32_t {
  kCall = 0,
  kReply = 1,
  kMessage = 2,
  kStream = 3,
  kCallWithFds = 4,
  kReplyWithFds = 5,
  kStreamHole = 6,
};

enum class Status : uint32_t { kOk = 0, kError = 1, kContinue = 2 };

struct Header {
  uint32_t program = kRemoteProgram;
  uint32_t version = kRemoteVersion;
  int32_t procedure = 0;
  Type type = Type::kCall;
  uint32_t serial = 0;
  Status status = Status::kOk;
};

// The total length announced by a message's first four bytes, checked
// against the protocol's bounds before anything is allocated.
Result<uint32_t> parse_length(std::span<const uint8_t, kLengthSize> prefix);

// Decodes the header; the reader is left at the payload.
Result<Header> parse_header(XdrReader& reader);

// A message with its length prefix and header; the caller appends the
// payload to the returned writer and calls finish().
XdrWriter begin_message(const Header& header);
std::vector<uint8_t> finish(XdrWriter& writer);

// An error reply's payload (remote_error): code, source, message, level.
void write_error(XdrWriter& writer, int code, int source, const std::string& message);
// The error an error reply carries (its code and message), for a client.
Error read_error(XdrReader& reader);

// Reads one whole message from `fd`: what follows the length prefix. An
// error at the end of the stream (kConnectionClosed) or for a length out of
// bounds.
inline constexpr const char* kConnectionClosed = "the connection was closed";
Result<std::vector<uint8_t>> read_message(int fd);

}  // namespace vessel::daemon::rpc

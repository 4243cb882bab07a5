// XDR (RFC 4506), the encoding of libvirt's remote protocol: big-endian
// 4-byte units, strings and opaque data padded to a multiple of 4.
//
// XdrReader never reads past its buffer: the first malformed or truncated
// item sets a sticky failure, after which every read yields zero/empty. A
// caller decodes a whole message and checks ok() once at the end.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vessel::daemon {

class XdrWriter {
 public:
  void u32(uint32_t value);
  void i32(int32_t value) { u32(static_cast<uint32_t>(value)); }
  void u64(uint64_t value);
  void i64(int64_t value) { u64(static_cast<uint64_t>(value)); }
  void boolean(bool value) { u32(value ? 1 : 0); }
  void string(const std::string& value);
  // XDR optional-data: a presence flag, then the value.
  void optional_string(const std::optional<std::string>& value);
  // Variable-length opaque data: length, bytes, padding.
  void opaque(std::span<const uint8_t> data);
  // Fixed-length opaque data (a UUID): bytes and padding, no length.
  void fixed_opaque(std::span<const uint8_t> data);
  // `char x<N>` arrays: each char takes a whole 4-byte unit.
  void char_array(const std::string& chars);
  // Stream payloads: raw bytes, no length, no padding.
  void raw(std::span<const uint8_t> data);

  // Overwrites the unit at `offset` (a length written before it was known).
  void patch_u32(size_t offset, uint32_t value);
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

class XdrReader {
 public:
  explicit XdrReader(std::span<const uint8_t> data) : data_(data) {}

  uint32_t u32();
  int32_t i32() { return static_cast<int32_t>(u32()); }
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  bool boolean();
  // Strings longer than `max` fail the reader (the protocol's limits).
  std::string string(uint32_t max);
  std::optional<std::string> optional_string(uint32_t max);
  std::vector<uint8_t> opaque(uint32_t max);
  template <size_t N>
  std::array<uint8_t, N> fixed_opaque() {
    std::array<uint8_t, N> out{};
    read_padded(out.data(), N);
    return out;
  }
  // The bytes not read yet (a stream packet's payload).
  std::span<const uint8_t> rest();

  void fail() { failed_ = true; }
  bool ok() const { return !failed_; }
  // The whole message was used: trailing bytes mean a malformed call.
  bool done() const { return ok() && offset_ == data_.size(); }

 private:
  bool take(void* out, size_t length);
  void read_padded(uint8_t* out, size_t length);

  std::span<const uint8_t> data_;
  size_t offset_ = 0;
  bool failed_ = false;
};

}  // namespace vessel::daemon

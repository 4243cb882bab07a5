#include "daemon/xdr.h"

#include <cstring>

namespace vessel::daemon {
namespace {

size_t padding(size_t length) {
  return (4 - length % 4) % 4;
}

}  // namespace

void XdrWriter::u32(uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes_.push_back(static_cast<uint8_t>(value >> shift));
}

void XdrWriter::u64(uint64_t value) {
  u32(static_cast<uint32_t>(value >> 32));
  u32(static_cast<uint32_t>(value));
}

void XdrWriter::string(const std::string& value) {
  opaque({reinterpret_cast<const uint8_t*>(value.data()), value.size()});
}

void XdrWriter::optional_string(const std::optional<std::string>& value) {
  boolean(value.has_value());
  if (value) string(*value);
}

void XdrWriter::opaque(std::span<const uint8_t> data) {
  u32(static_cast<uint32_t>(data.size()));
  fixed_opaque(data);
}

void XdrWriter::fixed_opaque(std::span<const uint8_t> data) {
  raw(data);
  bytes_.insert(bytes_.end(), padding(data.size()), 0);
}

void XdrWriter::char_array(const std::string& chars) {
  u32(static_cast<uint32_t>(chars.size()));
  for (char c : chars) i32(c);
}

void XdrWriter::raw(std::span<const uint8_t> data) {
  bytes_.insert(bytes_.end(), data.begin(), data.end());
}

void XdrWriter::patch_u32(size_t offset, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes_.at(offset + i) = static_cast<uint8_t>(value >> (24 - 8 * i));
}

bool XdrReader::take(void* out, size_t length) {
  if (length == 0) return !failed_;  // `out` may be the null data() of an empty vector
  if (failed_ || data_.size() - offset_ < length) {
    failed_ = true;
    std::memset(out, 0, length);
    return false;
  }
  std::memcpy(out, data_.data() + offset_, length);
  offset_ += length;
  return true;
}

void XdrReader::read_padded(uint8_t* out, size_t length) {
  uint8_t pad[3];
  if (take(out, length)) take(pad, padding(length));
}

uint32_t XdrReader::u32() {
  uint8_t b[4];
  take(b, 4);
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

uint64_t XdrReader::u64() {
  uint64_t high = u32();
  return high << 32 | u32();
}

bool XdrReader::boolean() {
  uint32_t value = u32();
  if (value > 1) failed_ = true;
  return value == 1;
}

std::vector<uint8_t> XdrReader::opaque(uint32_t max) {
  uint32_t length = u32();
  // Checked before allocating: a hostile length must not reserve memory.
  if (length > max || length > data_.size() - offset_) failed_ = true;
  if (failed_) return {};
  std::vector<uint8_t> out(length);
  read_padded(out.data(), length);
  return out;
}

std::string XdrReader::string(uint32_t max) {
  std::vector<uint8_t> bytes = opaque(max);
  return {bytes.begin(), bytes.end()};
}

std::optional<std::string> XdrReader::optional_string(uint32_t max) {
  if (!boolean()) return std::nullopt;
  return string(max);
}

std::span<const uint8_t> XdrReader::rest() {
  if (failed_) return {};
  auto out = data_.subspan(offset_);
  offset_ = data_.size();
  return out;
}

}  // namespace vessel::daemon

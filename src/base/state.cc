#include "base/state.h"

namespace vessel {

void StateWriter::raw(const void* p, size_t n) {
  const auto* bytes = static_cast<const uint8_t*>(p);
  data_.insert(data_.end(), bytes, bytes + n);
}

void StateWriter::begin_section(std::string_view name, uint32_t version) {
  str(name);
  u32(version);
  open_sections_.push_back(data_.size());
  u64(0);  // patched by end_section
}

void StateWriter::end_section() {
  size_t length_at = open_sections_.back();
  open_sections_.pop_back();
  uint64_t length = data_.size() - (length_at + sizeof(uint64_t));
  std::memcpy(&data_[length_at], &length, sizeof length);
}

void StateWriter::bytes(std::span<const uint8_t> data) {
  u64(data.size());
  raw(data.data(), data.size());
}

void StateWriter::str(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  raw(s.data(), s.size());
}

bool StateReader::take(void* out, size_t n) {
  size_t limit = section_ends_.empty() ? data_.size() : section_ends_.back();
  if (failed_ || n > limit - offset_) {
    failed_ = true;
    return false;
  }
  std::memcpy(out, data_.data() + offset_, n);
  offset_ += n;
  return true;
}

std::vector<uint8_t> StateReader::bytes() {
  std::span<const uint8_t> view = bytes_view();
  return {view.begin(), view.end()};
}

std::span<const uint8_t> StateReader::bytes_view() {
  uint64_t n = u64();
  size_t limit = section_ends_.empty() ? data_.size() : section_ends_.back();
  if (failed_ || n > limit - offset_) {
    failed_ = true;
    return {};
  }
  std::span<const uint8_t> out = data_.subspan(offset_, n);
  offset_ += n;
  return out;
}

std::string StateReader::str() {
  uint32_t n = u32();
  size_t limit = section_ends_.empty() ? data_.size() : section_ends_.back();
  if (failed_ || n > limit - offset_) {
    failed_ = true;
    return {};
  }
  std::string out(reinterpret_cast<const char*>(data_.data() + offset_), n);
  offset_ += n;
  return out;
}

Result<uint32_t> StateReader::begin_section(std::string_view name, uint32_t max_version) {
  std::string found = str();
  uint32_t version = u32();
  uint64_t length = u64();
  size_t limit = section_ends_.empty() ? data_.size() : section_ends_.back();
  if (failed_) return Error("saved state truncated before section '" + std::string(name) + "'");
  if (found != name) {
    return Error("saved state: expected section '" + std::string(name) + "', found '" + found +
                 "'");
  }
  if (version == 0 || version > max_version) {
    return Error("saved state: section '" + found + "' has unsupported version " +
                 std::to_string(version));
  }
  if (length > limit - offset_) return Error("saved state: section '" + found + "' truncated");
  section_ends_.push_back(offset_ + length);
  current_section_ = found;
  return version;
}

Result<void> StateReader::end_section() {
  if (section_ends_.empty()) return Error("saved state: end_section without a section");
  size_t end = section_ends_.back();
  section_ends_.pop_back();
  if (failed_) return Error("saved state: section '" + current_section_ + "' truncated");
  if (offset_ != end) {
    return Error("saved state: section '" + current_section_ + "' has unexpected trailing data");
  }
  return Ok();
}

}  // namespace vessel

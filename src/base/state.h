// Versioned save/restore format shared by every CPU and device.
//
// A saved machine is a sequence of sections: [name][version u32][length u64]
// [payload]. A component writes its fields in a fixed order inside its own
// section and checks the version on load; a reader that finds a truncated or
// foreign section returns an error rather than guessing.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace vessel {

class StateWriter {
 public:
  void begin_section(std::string_view name, uint32_t version);
  void end_section();

  void u8(uint8_t v) { raw(&v, sizeof v); }
  void u16(uint16_t v) { raw(&v, sizeof v); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void bytes(std::span<const uint8_t> data);  // length-prefixed
  void str(std::string_view s);               // length-prefixed
  template <typename T, size_t N>
  void array(const T (&values)[N]) {
    for (const T& v : values) raw(&v, sizeof v);
  }

  // Room for `more` bytes beyond what is written: a large state is then not
  // copied again each time the buffer grows.
  void reserve(size_t more) { data_.reserve(data_.size() + more); }

  const std::vector<uint8_t>& data() const { return data_; }

 private:
  void raw(const void* p, size_t n);
  std::vector<uint8_t> data_;
  std::vector<size_t> open_sections_;  // offsets of the length fields to patch
};

class StateReader {
 public:
  explicit StateReader(std::span<const uint8_t> data) : data_(data) {}

  // Enters the next section; it must be called `name` and have a version in
  // [1, max_version]. Returns the version found.
  Result<uint32_t> begin_section(std::string_view name, uint32_t max_version);
  // Leaves the section; an error if its payload was not consumed exactly.
  Result<void> end_section();

  // Field readers: on underflow they set a sticky failure flag and return 0,
  // which end_section() reports, so components need not check every field.
  uint8_t u8() { return fixed<uint8_t>(); }
  uint16_t u16() { return fixed<uint16_t>(); }
  uint32_t u32() { return fixed<uint32_t>(); }
  uint64_t u64() { return fixed<uint64_t>(); }
  bool boolean() { return u8() != 0; }
  std::vector<uint8_t> bytes();
  // The same field without a copy: a view into the data being read.
  std::span<const uint8_t> bytes_view();
  std::string str();
  template <typename T, size_t N>
  void array(T (&values)[N]) {
    for (T& v : values) v = fixed<T>();
  }
  bool failed() const { return failed_; }
  bool at_end() const { return offset_ == data_.size(); }

 private:
  template <typename T>
  T fixed() {
    T v{};
    if (!take(&v, sizeof v)) return T{};
    return v;
  }
  bool take(void* out, size_t n);

  std::span<const uint8_t> data_;
  size_t offset_ = 0;
  std::vector<size_t> section_ends_;
  std::string current_section_;
  bool failed_ = false;
};

}  // namespace vessel

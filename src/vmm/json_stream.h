// Splits a byte stream into JSON texts, as QMP clients send them: objects
// back to back, with or without whitespace between them, possibly split
// across reads. Only the nesting is tracked here (brackets outside strings);
// parsing is the caller's. A top-level token that is not an object or array
// comes out alone, so that the caller can answer it with an error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vessel::vmm {

class JsonStream {
 public:
  // A text longer than this is reported (too_long) as soon as it gets there;
  // its remainder is skipped.
  static constexpr size_t kMaxText = 1 << 20;

  struct Text {
    std::string json;
    bool too_long = false;  // json holds only the first kMaxText bytes
  };

  // Appends `bytes`; returns every text completed by them.
  std::vector<Text> feed(std::string_view bytes);

 private:
  void finish(std::vector<Text>& out);

  std::string text_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool scalar_ = false;  // inside a top-level token that is not an object/array
  bool overflow_ = false;
};

}  // namespace vessel::vmm

#include "vmm/json_stream.h"

namespace vessel::vmm {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

void JsonStream::finish(std::vector<Text>& out) {
  if (!overflow_) out.push_back({std::move(text_), false});  // else reported already
  text_.clear();
  depth_ = 0;
  in_string_ = escaped_ = scalar_ = overflow_ = false;
}

std::vector<JsonStream::Text> JsonStream::feed(std::string_view bytes) {
  std::vector<Text> out;
  for (char c : bytes) {
    if (scalar_ && (is_space(c) || c == '{' || c == '[') && !in_string_) finish(out);
    if (text_.empty() && !overflow_ && depth_ == 0 && !scalar_) {
      if (is_space(c)) continue;
      if (c != '{' && c != '[') scalar_ = true;
    }
    if (overflow_) {
      // Discarding the rest of an overlong text; only its nesting counts.
    } else if (text_.size() < kMaxText) {
      text_.push_back(c);
    } else {
      // Reported at once, so a client gets its answer even if the text never ends.
      out.push_back({std::move(text_), true});
      text_.clear();
      overflow_ = true;
    }
    // A closer with nothing open can only be an error: report it now.
    if (scalar_ && text_.size() == 1 && (c == '}' || c == ']')) {
      finish(out);
      continue;
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (!scalar_ && (c == '{' || c == '[')) {
      ++depth_;
    } else if (!scalar_ && (c == '}' || c == ']')) {
      if (--depth_ <= 0) finish(out);
    }
  }
  return out;
}

}  // namespace vessel::vmm

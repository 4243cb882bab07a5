#include "vmm/json_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vessel::vmm {
namespace {

std::vector<std::string> texts(JsonStream& s, std::string_view bytes) {
  std::vector<std::string> out;
  for (auto& t : s.feed(bytes)) out.push_back(t.too_long ? "<too long>" : t.json);
  return out;
}

TEST(JsonStream, SplitsObjectsBackToBackAndAcrossReads) {
  JsonStream s;
  EXPECT_EQ(texts(s, "{\"a\": 1}{\"b\": [2, {}]}\r\n {\"c\""),
            (std::vector<std::string>{"{\"a\": 1}", "{\"b\": [2, {}]}"}));
  EXPECT_EQ(texts(s, ": 3}"), (std::vector<std::string>{"{\"c\": 3}"}));
}

TEST(JsonStream, BracketsInsideStringsDoNotCount) {
  JsonStream s;
  EXPECT_EQ(texts(s, R"({"x": "}{\"]"} )"), (std::vector<std::string>{R"({"x": "}{\"]"})"}));
}

TEST(JsonStream, ScalarsAndStrayClosersComeOutAlone) {
  JsonStream s;
  EXPECT_EQ(texts(s, "42 \"str\" {\"ok\":1}"),
            (std::vector<std::string>{"42", "\"str\"", "{\"ok\":1}"}));
  // A closer with nothing open ends the text at once: the caller reports it.
  EXPECT_EQ(texts(s, "]"), (std::vector<std::string>{"]"}));
  EXPECT_EQ(texts(s, "{}"), (std::vector<std::string>{"{}"}));
}

TEST(JsonStream, OverlongTextIsReportedOnceAndTheStreamGoesOn) {
  JsonStream s;
  std::string big = "{\"k\": \"" + std::string(JsonStream::kMaxText, 'x') + "\"}";
  EXPECT_EQ(texts(s, big + "{}"), (std::vector<std::string>{"<too long>", "{}"}));
}

}  // namespace
}  // namespace vessel::vmm

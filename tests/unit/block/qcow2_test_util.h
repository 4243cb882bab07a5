// Helpers for the qcow2 tests: a scratch directory, running qemu-img/qemu-io
// (the interoperability reference), and a byte model of the guest disk.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "block/qcow2.h"

namespace vessel::block::testing {

inline bool have_qemu_tools() {
  static const bool present =
      std::system("command -v qemu-img >/dev/null 2>&1 && command -v qemu-io >/dev/null 2>&1") == 0;
  return present;
}

#define REQUIRE_QEMU_TOOLS()                                                            \
  do {                                                                                  \
    if (!::vessel::block::testing::have_qemu_tools()) {                                 \
      GTEST_SKIP() << "qemu-img/qemu-io are not installed (Debian package qemu-utils)"; \
    }                                                                                   \
  } while (0)

struct RunResult {
  int status = -1;  // exit code, or -1 when the command did not exit normally
  std::string output;
};

// Runs a shell command, capturing stdout and stderr together.
inline RunResult run(const std::string& command) {
  RunResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) r.output.append(buf, n);
  int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/vessel-qcow2-XXXXXX";
    path_ = mkdtemp(name) ? name : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<uint8_t> data(in ? static_cast<size_t>(in.tellg()) : 0);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return data;
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Patches bytes of a file in place.
inline void patch_file(const std::string& path, uint64_t offset,
                       const std::vector<uint8_t>& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> be64(uint64_t v) {
  std::vector<uint8_t> out(8);
  qcow2::store_be64(out.data(), v);
  return out;
}
inline std::vector<uint8_t> be32(uint32_t v) {
  std::vector<uint8_t> out(4);
  qcow2::store_be32(out.data(), v);
  return out;
}

// The whole guest-visible disk, read through Qcow2Image.
inline std::vector<uint8_t> read_all(BlockBackend& image) {
  std::vector<uint8_t> data(image.size());
  auto r = image.read(0, data);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return data;
}

inline std::vector<uint8_t> read_all(const std::string& path) {
  auto image = Qcow2Image::open(path, {});
  EXPECT_TRUE(image.ok()) << image.error().message();
  if (!image.ok()) return {};
  return read_all(**image);
}

// `qemu-img check`: 0 clean, 2 corruptions, 3 leaks.
inline RunResult qemu_check(const std::string& path) {
  return run("qemu-img check -f qcow2 '" + path + "'");
}

// `qemu-img check` finds the image clean: no corruption and no leaks.
inline void expect_qemu_check_clean(const std::string& path) {
  RunResult check = qemu_check(path);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(check.output.find("leaked"), std::string::npos) << check.output;
}

// The guest-visible contents as QEMU sees them.
inline std::vector<uint8_t> qemu_read_all(const std::string& path, const std::string& raw_path) {
  RunResult r = run("qemu-img convert -f qcow2 -O raw '" + path + "' '" + raw_path + "'");
  EXPECT_EQ(r.status, 0) << r.output;
  return read_file(raw_path);
}

// Index of the first differing byte, or -1.
inline int64_t first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t n = std::min(a.size(), b.size());
  if (memcmp(a.data(), b.data(), n) == 0)
    return a.size() == b.size() ? -1 : static_cast<int64_t>(n);
  size_t i = 0;
  while (a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

// `qemu-img map --output=json` without the host offsets, which depend on the
// order each implementation allocates in, and with neighbouring extents of the
// same kind merged (qemu-img merges them only where the host offsets follow
// each other): one "start length depth present zero data" line per extent.
inline std::string map_without_offsets(const std::string& path) {
  RunResult r = run("qemu-img map --output=json '" + path + "'");
  EXPECT_EQ(r.status, 0) << r.output;
  auto field = [](const std::string& line, const std::string& key) {
    size_t at = line.find("\"" + key + "\": ");
    if (at == std::string::npos) return std::string();
    at += key.size() + 4;
    size_t end = line.find_first_of(",}", at);
    return line.substr(at, end - at);
  };
  std::string out, kind;
  uint64_t start = 0, length = 0;
  auto emit = [&] {
    if (length != 0)
      out += std::to_string(start) + " " + std::to_string(length) + " " + kind + "\n";
  };
  size_t pos = 0;
  while (pos < r.output.size()) {
    size_t end = r.output.find('\n', pos);
    if (end == std::string::npos) end = r.output.size();
    std::string line = r.output.substr(pos, end - pos);
    pos = end + 1;
    if (field(line, "start").empty()) continue;
    std::string k = field(line, "depth") + " " + field(line, "present") + " " +
                    field(line, "zero") + " " + field(line, "data");
    uint64_t s = std::stoull(field(line, "start")), l = std::stoull(field(line, "length"));
    if (k == kind && s == start + length) {
      length += l;
    } else {
      emit();
      kind = k;
      start = s;
      length = l;
    }
  }
  emit();
  return out;
}

}  // namespace vessel::block::testing

// HostFile opened with O_DIRECT (cache modes none and directsync) takes
// requests of any alignment and gives the same bytes as the page cache:
// unaligned reads, read-modify-write of partial blocks, writes at and past
// the end of a file whose size is not a multiple of the block size, and
// concurrent writes to different bytes of one block.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "block/host_file.h"

namespace vessel::block {
namespace {

std::vector<uint8_t> pattern(size_t length, uint8_t seed) {
  std::vector<uint8_t> data(length);
  for (size_t i = 0; i < length; ++i) data[i] = static_cast<uint8_t>(seed + i * 7 + i / 251);
  return data;
}

// A temporary file holding `data` in `dir`; it also keeps a copy to compare
// against.
class TempFile {
 public:
  explicit TempFile(std::vector<uint8_t> data, const std::string& dir = "/tmp")
      : expected_(std::move(data)) {
    std::string name = dir + "/vessel-direct-XXXXXX";
    int fd = mkstemp(name.data());
    EXPECT_GE(fd, 0);
    path_ = name;
    EXPECT_EQ(::write(fd, expected_.data(), expected_.size()),
              static_cast<ssize_t>(expected_.size()));
    ::close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::vector<uint8_t>& expected() { return expected_; }

  // The file's bytes as the page cache sees them.
  std::vector<uint8_t> contents() const {
    auto file = HostFile::open(path_, Access::kReadOnly);
    EXPECT_TRUE(file.ok());
    std::vector<uint8_t> out((*file)->size());
    EXPECT_TRUE((*file)->read(0, out).ok());
    return out;
  }

 private:
  std::string path_;
  std::vector<uint8_t> expected_;
};

std::unique_ptr<HostFile> open_direct(const std::string& path, HostCache cache) {
  auto file = HostFile::open(path, Access::kReadWrite, cache);
  if (!file.ok()) {
    ADD_FAILURE() << file.error().message();
    return nullptr;
  }
  EXPECT_TRUE((*file)->direct());
  return std::move(file).value();
}

// Each mode on the disk's file system (which reports its direct I/O
// alignment, STATX_DIOALIGN) and on tmpfs (which does not: 4 KiB is assumed).
class HostFileDirect : public ::testing::TestWithParam<std::tuple<HostCache, std::string>> {
 protected:
  void SetUp() override {
    if (access(dir().c_str(), W_OK) != 0) GTEST_SKIP() << dir() << " is not writable";
    TempFile probe({0}, dir());
    auto file = HostFile::open(probe.path(), Access::kReadWrite, cache());
    if (!file.ok() && file.error().message().find("O_DIRECT") != std::string::npos) {
      GTEST_SKIP() << file.error().message();
    }
  }
  HostCache cache() const { return std::get<0>(GetParam()); }
  const std::string& dir() const { return std::get<1>(GetParam()); }
};

TEST_P(HostFileDirect, ReadsAtAnyAlignment) {
  // 3 blocks of 4 KiB and an odd tail: the file's end is not aligned.
  TempFile temp(pattern(3 * 4096 + 777, 1), dir());
  auto file = open_direct(temp.path(), cache());
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->size(), temp.expected().size());
  const std::pair<uint64_t, uint64_t> reads[] = {
      {0, 4096}, {1, 10}, {4095, 2}, {100, 9000}, {4096, 8192 + 777}, {12000, 1065}, {12288, 777}};
  for (auto [offset, length] : reads) {
    std::vector<uint8_t> out(length + 1);
    // A buffer that is not aligned either.
    std::span<uint8_t> view(out.data() + 1, length);
    ASSERT_TRUE(file->read(offset, view).ok()) << offset << "+" << length;
    EXPECT_TRUE(std::equal(view.begin(), view.end(), temp.expected().begin() + offset))
        << offset << "+" << length;
  }
  std::vector<uint8_t> past(10);
  auto beyond = file->read(temp.expected().size() - 5, past);
  ASSERT_FALSE(beyond.ok());
  EXPECT_NE(beyond.error().message().find("unexpected end of file"), std::string::npos);
  std::vector<uint8_t> padded(100, 0xee);
  ASSERT_TRUE(file->read_padded(temp.expected().size() - 50, padded).ok());
  EXPECT_TRUE(std::equal(padded.begin(), padded.begin() + 50, temp.expected().end() - 50));
  EXPECT_TRUE(std::all_of(padded.begin() + 50, padded.end(), [](uint8_t b) { return b == 0; }));
}

TEST_P(HostFileDirect, WritesAtAnyAlignmentAndKeepsTheSize) {
  TempFile temp(pattern(3 * 4096 + 777, 2), dir());
  auto file = open_direct(temp.path(), cache());
  ASSERT_NE(file, nullptr);
  const std::pair<uint64_t, uint64_t> writes[] = {
      {0, 4096}, {5, 3}, {4090, 20}, {4096, 4096}, {100, 9000}, {12288, 777}, {13000, 65}};
  uint8_t seed = 50;
  for (auto [offset, length] : writes) {
    std::vector<uint8_t> data = pattern(length, seed++);
    ASSERT_TRUE(file->write(offset, data).ok()) << offset << "+" << length;
    std::copy(data.begin(), data.end(), temp.expected().begin() + offset);
    EXPECT_EQ(file->size(), temp.expected().size());
  }
  EXPECT_EQ(temp.contents(), temp.expected());
}

TEST_P(HostFileDirect, GrowsToExactlyTheEndOfAWrite) {
  TempFile temp(pattern(1000, 3), dir());
  auto file = open_direct(temp.path(), cache());
  ASSERT_NE(file, nullptr);
  // Past the end, unaligned: the last block is written whole, then the file
  // is trimmed back to where the data ends.
  std::vector<uint8_t> tail = pattern(300, 9);
  ASSERT_TRUE(file->write(5000, tail).ok());
  EXPECT_EQ(file->size(), 5300u);
  temp.expected().resize(5300, 0);
  std::copy(tail.begin(), tail.end(), temp.expected().begin() + 5000);
  // Aligned and past the end.
  std::vector<uint8_t> block = pattern(8192, 10);
  ASSERT_TRUE(file->write(8192, block).ok());
  EXPECT_EQ(file->size(), 16384u);
  temp.expected().resize(16384, 0);
  std::copy(block.begin(), block.end(), temp.expected().begin() + 8192);
  EXPECT_EQ(temp.contents(), temp.expected());
  // Shrinking to an odd size, then writing inside the last partial block.
  ASSERT_TRUE(file->truncate(9000).ok());
  temp.expected().resize(9000);
  std::vector<uint8_t> small = pattern(10, 11);
  ASSERT_TRUE(file->write(8990, small).ok());
  std::copy(small.begin(), small.end(), temp.expected().begin() + 8990);
  EXPECT_EQ(file->size(), 9000u);
  EXPECT_EQ(temp.contents(), temp.expected());
}

// Threads writing interleaved 100-byte pieces: many share a block, and each
// such write reads the block before writing it back. None may be lost.
TEST_P(HostFileDirect, ConcurrentWritesToOneBlockKeepEachOther) {
  constexpr size_t kPiece = 100;
  constexpr size_t kPieces = 400;
  constexpr int kThreads = 4;
  TempFile temp(std::vector<uint8_t>(kPiece * kPieces, 0x11), dir());
  auto file = open_direct(temp.path(), cache());
  ASSERT_NE(file, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t p = static_cast<size_t>(t); p < kPieces; p += kThreads) {
        std::vector<uint8_t> data(kPiece, static_cast<uint8_t>(p));
        if (!file->write(p * kPiece, data).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (size_t p = 0; p < kPieces; ++p) {
    std::fill_n(temp.expected().begin() + static_cast<ptrdiff_t>(p * kPiece), kPiece,
                static_cast<uint8_t>(p));
  }
  EXPECT_EQ(temp.contents(), temp.expected());
}

INSTANTIATE_TEST_SUITE_P(
    Modes, HostFileDirect,
    ::testing::Combine(::testing::Values(HostCache::kDirect, HostCache::kDirectSync),
                       ::testing::Values("/tmp", "/dev/shm")),
    [](const auto& test) {
      std::string mode = std::get<0>(test.param) == HostCache::kDirect ? "None" : "DirectSync";
      return mode + (std::get<1>(test.param) == "/tmp" ? "Disk" : "Tmpfs");
    });

TEST(HostFile, PageCacheModesDoNotUseDirectIo) {
  TempFile temp(pattern(4096, 4));
  for (HostCache cache : {HostCache::kWriteback, HostCache::kWritethrough}) {
    auto file = HostFile::open(temp.path(), Access::kReadWrite, cache);
    ASSERT_TRUE(file.ok()) << file.error().message();
    EXPECT_FALSE((*file)->direct());
    std::vector<uint8_t> data = pattern(10, 5);
    ASSERT_TRUE((*file)->write(3, data).ok());
    std::copy(data.begin(), data.end(), temp.expected().begin() + 3);
  }
  EXPECT_EQ(temp.contents(), temp.expected());
}

}  // namespace
}  // namespace vessel::block

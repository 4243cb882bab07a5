#include "block/raw_file.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace vessel::block {
namespace {

// A temporary file of `size` bytes whose byte i is (i * 7) & 0xff.
class TempImage {
 public:
  explicit TempImage(size_t size) {
    char name[] = "/tmp/vessel-raw-XXXXXX";
    int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    path_ = name;
    std::vector<uint8_t> data(size);
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 7);
    EXPECT_EQ(::write(fd, data.data(), size), static_cast<ssize_t>(size));
    ::close(fd);
  }
  ~TempImage() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(RawFile, ReadsWritesAndReportsSize) {
  TempImage image(8192);
  auto opened = RawFile::open(image.path(), false);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  RawFile& file = **opened;
  EXPECT_EQ(file.size(), 8192u);
  EXPECT_FALSE(file.read_only());

  std::vector<uint8_t> buf(100);
  ASSERT_TRUE(file.read(1000, buf).ok());
  for (size_t i = 0; i < buf.size(); ++i) EXPECT_EQ(buf[i], static_cast<uint8_t>((1000 + i) * 7));

  std::vector<uint8_t> data(512, 0xab);
  ASSERT_TRUE(file.write(4096, data).ok());
  ASSERT_TRUE(file.flush().ok());
  std::vector<uint8_t> back(512);
  ASSERT_TRUE(file.read(4096, back).ok());
  EXPECT_EQ(back, data);
}

TEST(RawFile, RejectsAccessBeyondTheEnd) {
  TempImage image(4096);
  auto file = RawFile::open(image.path(), false);
  ASSERT_TRUE(file.ok());
  std::vector<uint8_t> buf(16);
  EXPECT_FALSE((*file)->read(4090, buf).ok());
  EXPECT_FALSE((*file)->read(UINT64_MAX - 4, buf).ok());
  Result<void> w = (*file)->write(4096, buf);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find(image.path()), std::string::npos);
  // The image did not grow.
  EXPECT_EQ((*file)->size(), 4096u);
  struct stat st;
  ASSERT_EQ(stat(image.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4096);
  // Reading exactly up to the end is fine.
  EXPECT_TRUE((*file)->read(4080, buf).ok());
}

TEST(RawFile, ReadOnlyRefusesWrites) {
  TempImage image(4096);
  auto file = RawFile::open(image.path(), true);
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE((*file)->read_only());
  std::vector<uint8_t> buf(16, 1);
  Result<void> w = (*file)->write(0, buf);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find("read-only"), std::string::npos);
  EXPECT_TRUE((*file)->flush().ok());
}

TEST(RawFile, ErrorsNameTheFileAndTheReason) {
  auto missing = RawFile::open("/nonexistent/disk.img", false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "/nonexistent/disk.img: no such file");

  auto directory = RawFile::open("/tmp", true);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().message(), "/tmp: not a regular file or block device");

  auto character_device = RawFile::open("/dev/null", true);
  ASSERT_FALSE(character_device.ok());
  EXPECT_EQ(character_device.error().message(), "/dev/null: not a regular file or block device");
}

// The outcome of RawFile::open(path, read_only) in a child process running as
// "nobody" (uid and gid 65534): root bypasses file permissions, and the tests
// run as root in CI. "ok" on success, else the error message.
std::string open_as_unprivileged(const std::string& path, bool read_only) {
  constexpr uid_t kNobody = 65534;
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    std::string outcome;
    if (geteuid() == 0 &&
        (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0)) {
      outcome = std::string("cannot become nobody: ") + strerror(errno);
    } else {
      auto file = RawFile::open(path, read_only);
      outcome = file.ok() ? "ok" : file.error().message();
    }
    // _exit: the child must not run the test binary's atexit handlers.
    ssize_t written = ::write(fds[1], outcome.data(), outcome.size());
    _exit(written == static_cast<ssize_t>(outcome.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string outcome;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) outcome.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child failed: " + outcome;
  }
  return outcome;
}

TEST(RawFile, PermissionDenied) {
  TempImage image(4096);
  // Readable by everyone, writable by no one but root.
  ASSERT_EQ(chmod(image.path().c_str(), 0444), 0);
  EXPECT_EQ(open_as_unprivileged(image.path(), false),
            image.path() + ": permission denied (open it read-only if it must not change)");
  EXPECT_EQ(open_as_unprivileged(image.path(), true), "ok");
}

}  // namespace
}  // namespace vessel::block

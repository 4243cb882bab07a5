// The serial console on a Unix socket: one client at a time (later ones
// wait in the backlog), raw bytes both ways, output dropped without a client
// or past the buffer of a client that does not read.
#include "vmm/serial_socket.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace vessel::vmm {
namespace {

// Waits up to 10 s for `done`.
template <typename F>
bool eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class SerialSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/vessel-serial-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/console";
    SerialSocket::Input input{
        [this](uint8_t byte) {
          std::lock_guard lock(mutex_);
          typed_.push_back(static_cast<char>(byte));
        },
        [] { return size_t{16}; },
    };
    Result<std::unique_ptr<SerialSocket>> socket = SerialSocket::listen(path_, std::move(input));
    ASSERT_TRUE(socket) << socket.error().message();
    socket_ = std::move(*socket);
  }
  void TearDown() override {
    socket_.reset();
    rmdir(dir_.c_str());
  }

  int connect_client() const {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
    return fd;
  }
  // What arrives on `fd` within `ms` milliseconds of silence.
  static std::string receive(int fd, int ms = 300) {
    std::string got;
    pollfd p{fd, POLLIN, 0};
    char buffer[4096];
    while (poll(&p, 1, ms) > 0) {
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      got.append(buffer, static_cast<size_t>(n));
    }
    return got;
  }
  void write_text(const std::string& text) {
    for (char c : text) socket_->write(static_cast<uint8_t>(c));
  }
  // Guest output until `fd` sees `marker` (the client is served then);
  // returns all `fd` received meanwhile. A marker may still be on its way.
  std::string sync(int fd, const std::string& marker) {
    std::string got;
    EXPECT_TRUE(eventually([&] {
      write_text(marker);
      got += receive(fd, 20);
      return got.find(marker) != std::string::npos;
    })) << marker;
    return got;
  }
  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
  std::string typed() {
    std::lock_guard lock(mutex_);
    return typed_;
  }

  std::string dir_;
  std::string path_;
  std::mutex mutex_;
  std::string typed_;
  std::unique_ptr<SerialSocket> socket_;
};

TEST_F(SerialSocketTest, SocketIsPrivateAndRemovedAtTheEnd) {
  struct stat st {};
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, SerialSocket::kMode);
  socket_.reset();
  EXPECT_NE(lstat(path_.c_str(), &st), 0);
}

TEST_F(SerialSocketTest, BytesGoBothWays) {
  int fd = connect_client();
  sync(fd, "ready");
  write_text("hello\r\n");
  EXPECT_TRUE(contains(receive(fd), "hello\r\n"));
  ASSERT_EQ(write(fd, "ls\x01x\r", 5), 5);  // Ctrl-A is a byte like any other
  EXPECT_TRUE(eventually([&] { return typed() == "ls\x01x\r"; })) << typed();
  close(fd);
}

TEST_F(SerialSocketTest, OutputWithoutAClientIsDropped) {
  write_text("nobody hears this");
  int fd = connect_client();
  std::string got = sync(fd, "@") + receive(fd);
  EXPECT_FALSE(contains(got, "nobody")) << got;
  close(fd);
}

// As QEMU's socket chardev: the second client is not served (nor refused)
// while the first is connected, and takes over when it leaves.
TEST_F(SerialSocketTest, SecondClientWaitsForTheFirst) {
  int first = connect_client();
  sync(first, "one");
  int second = connect_client();
  write_text("for the first");
  EXPECT_TRUE(contains(receive(first), "for the first"));
  EXPECT_EQ(receive(second), "");
  ASSERT_EQ(write(second, "early", 5), 5);
  close(first);
  sync(second, "two");
  // What the second typed while waiting reaches the guest once it is served.
  EXPECT_TRUE(eventually([&] { return typed() == "early"; })) << typed();
  close(second);
}

TEST_F(SerialSocketTest, SlowClientNeverBlocksTheGuest) {
  int fd = connect_client();
  sync(fd, "go");
  // Far more than the socket and the buffer hold: write() must return and
  // count what did not fit.
  auto start = std::chrono::steady_clock::now();
  write_text(std::string(8 * SerialSocket::kOutputLimit + (4 << 20), 'x'));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_GT(socket_->dropped(), 0u);
  close(fd);
  // The next client gets fresh output, not the last one's backlog.
  int next = connect_client();
  std::string got = sync(next, "fresh") + receive(next);
  EXPECT_FALSE(contains(got, "x")) << got.substr(0, 100);
  close(next);
}

TEST_F(SerialSocketTest, DisconnectAtAnyTimeIsHarmless) {
  for (int i = 0; i < 3; ++i) {
    int fd = connect_client();
    sync(fd, "hi");
    write_text(std::string(1000, 'y'));
    close(fd);  // with output unread
  }
  int fd = connect_client();
  sync(fd, "still here");
  close(fd);
}

TEST_F(SerialSocketTest, WaitForClient) {
  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    socket_->wait_for_client([] { return false; });
    waited = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(waited);
  int fd = connect_client();
  EXPECT_TRUE(eventually([&] { return waited.load(); }));
  waiter.join();
  close(fd);
  // Only the first client is waited for; giving up ends a wait too.
  socket_->wait_for_client([] { return true; });
}

}  // namespace
}  // namespace vessel::vmm

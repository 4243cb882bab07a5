#include "vmm/state_file.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace vessel::vmm {
namespace {

constexpr char kMagic[8] = {'V', 'E', 'S', 'S', 'E', 'L', 'V', 'M'};
constexpr size_t kHeaderSize = 24;

uint32_t crc_of(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0, Z_NULL, 0);
  // zlib takes at most 4 GiB at a time.
  for (size_t done = 0; done < bytes.size();) {
    uInt n = static_cast<uInt>(std::min<size_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, bytes.data() + done, n);
    done += n;
  }
  return static_cast<uint32_t>(crc);
}

Result<void> write_all(int fd, std::span<const uint8_t> bytes, const std::string& name) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(name + ": " + strerror(errno));
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return Ok();
}

using Header = std::array<uint8_t, kHeaderSize>;

Header header_of(std::span<const uint8_t> state) {
  Header header{};
  uint32_t version = kStateFileVersion, crc = crc_of(state);
  uint64_t length = state.size();
  std::memcpy(header.data(), kMagic, sizeof kMagic);
  std::memcpy(header.data() + 8, &version, 4);
  std::memcpy(header.data() + 12, &crc, 4);
  std::memcpy(header.data() + 16, &length, 8);
  return header;
}

uint64_t length_in(const Header& header) {
  uint64_t length;
  std::memcpy(&length, header.data() + 16, 8);
  return length;
}

// `header` (what there is of it) against the state bytes that follow it.
Result<void> check(std::span<const uint8_t> header, std::span<const uint8_t> state,
                   const std::string& name) {
  if (header.size() < kHeaderSize || std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) {
    return Error(name + ": not a Vessel VM state file");
  }
  uint32_t version, crc;
  uint64_t length;
  std::memcpy(&version, header.data() + 8, 4);
  std::memcpy(&crc, header.data() + 12, 4);
  std::memcpy(&length, header.data() + 16, 8);
  if (version != kStateFileVersion) {
    return Error(name + ": VM state file format " + std::to_string(version) +
                 "; this Vessel reads format " + std::to_string(kStateFileVersion));
  }
  if (length != state.size()) {
    return Error(name + ": VM state file is truncated or has trailing bytes (" +
                 std::to_string(state.size()) + " of " + std::to_string(length) + " bytes)");
  }
  if (crc_of(state) != crc) return Error(name + ": VM state file is corrupt (CRC mismatch)");
  return Ok();
}

// Fills `out` from `fd` until it is full or the input ends; the bytes read.
Result<size_t> read_into(int fd, std::span<uint8_t> out, const std::string& name) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error(name + ": " + strerror(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

// A state file from `fd`, checked: the header first, then the state read
// straight into the buffer it is returned in (no copy of a file that holds
// the guest's RAM). The buffer is sized by the file's size, or for a pipe by
// the header's length up to kPipeGuess, and grows if more comes.
Result<MappedBuffer> read_state_from(int fd, const std::string& name) {
  constexpr uint64_t kPipeGuess = uint64_t{256} << 20;
  Header header{};
  TRY_ASSIGN(size_t got, read_into(fd, header, name));
  if (got < kHeaderSize) return check({header.data(), got}, {}, name).error();
  uint64_t size = std::min(length_in(header), kPipeGuess);
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(std::max<off_t>(st.st_size - static_cast<off_t>(kHeaderSize), 0));
  }
  TRY_ASSIGN(MappedBuffer state,
             MappedBuffer::create(static_cast<size_t>(size) + 1));  // + 1: to see the end
  for (;;) {
    TRY_ASSIGN(size_t n, read_into(fd, state.spare(), name));
    state.set_size(state.size() + n);
    if (state.size() < state.capacity()) break;
    TRY(state.reserve(state.capacity() * 2));
  }
  TRY(check(header, state.bytes(), name));
  return state;
}

// The header, then the state: two writes, no copy of the state.
Result<void> write_file(int fd, std::span<const uint8_t> state, const std::string& name) {
  Header header = header_of(state);
  TRY(write_all(fd, header, name));
  return write_all(fd, state, name);
}

// Runs `sh -c command` with its stdin (writing) or stdout (reading) on a pipe.
struct Child {
  pid_t pid = -1;
  int fd = -1;
};

// posix_spawn, not fork: the child does not copy the page tables of a
// process that maps the guest's RAM (milliseconds for a large guest). The
// pipe gets 1 MiB (the default limit, pipe-max-size) instead of 64 KiB:
// fewer switches between this process and the command per state file.
Result<Child> spawn(const std::string& command, bool child_reads) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return Error(std::string("pipe: ") + strerror(errno));
  (void)fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);  // a smaller pipe only costs speed
  const int child_end = child_reads ? fds[0] : fds[1];
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The copy dup2 makes has no O_CLOEXEC: the command keeps it, not the pipe.
  posix_spawn_file_actions_adddup2(&actions, child_end, child_reads ? STDIN_FILENO : STDOUT_FILENO);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(child_end);
  if (rc != 0) {
    close(child_reads ? fds[1] : fds[0]);
    return Error(std::string("/bin/sh: ") + strerror(rc));
  }
  return Child{pid, child_reads ? fds[1] : fds[0]};
}

Result<void> reap(pid_t pid, const std::string& name) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Error(name + ": waitpid: " + strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(name + ": the command failed (status " + std::to_string(status) + ")");
  }
  return Ok();
}

}  // namespace

std::vector<uint8_t> encode_state_file(std::span<const uint8_t> state) {
  const Header header = header_of(state);
  std::vector<uint8_t> file(kHeaderSize + state.size());
  std::memcpy(file.data(), header.data(), kHeaderSize);
  if (!state.empty()) std::memcpy(file.data() + kHeaderSize, state.data(), state.size());
  return file;
}

Result<std::vector<uint8_t>> decode_state_file(std::span<const uint8_t> file,
                                               const std::string& name) {
  std::span<const uint8_t> header = file.first(std::min(file.size(), kHeaderSize));
  std::span<const uint8_t> state = file.subspan(header.size());
  TRY(check(header, state, name));
  return std::vector<uint8_t>(state.begin(), state.end());
}

Result<void> write_state(const std::string& uri, std::span<const uint8_t> state) {
  if (uri.starts_with("file:")) {
    std::string path = uri.substr(5);
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Error(tmp + ": " + strerror(errno));
    Result<void> written = write_file(fd, state, tmp);
    if (written && fsync(fd) < 0) written = Error(tmp + ": fsync: " + strerror(errno));
    close(fd);
    if (written && rename(tmp.c_str(), path.c_str()) < 0) {
      written = Error(path + ": " + strerror(errno));
    }
    if (!written) unlink(tmp.c_str());
    return written;
  }
  if (uri.starts_with("exec:")) {
    TRY_ASSIGN(Child child, spawn(uri.substr(5), /*child_reads=*/true));
    Result<void> written = write_file(child.fd, state, uri);
    close(child.fd);
    Result<void> exited = reap(child.pid, uri);
    return written ? exited : written;
  }
  return Error("unsupported migration URI '" + uri + "' (file:PATH or exec:COMMAND)");
}

Result<MappedBuffer> read_state(const std::string& uri) {
  if (uri.starts_with("file:")) {
    std::string path = uri.substr(5);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(path + ": " + strerror(errno));
    Result<MappedBuffer> state = read_state_from(fd, path);
    close(fd);
    return state;
  }
  if (uri.starts_with("exec:")) {
    TRY_ASSIGN(Child child, spawn(uri.substr(5), /*child_reads=*/false));
    Result<MappedBuffer> state = read_state_from(child.fd, uri);
    close(child.fd);
    TRY(reap(child.pid, uri));
    return state;
  }
  return Error("unsupported incoming URI '" + uri + "' (file:PATH or exec:COMMAND)");
}

}  // namespace vessel::vmm

// Crash tests: run a writer in a child process and kill it with SIGKILL at
// a chosen instant, keeping what it reported before it died.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace vessel::block::testing {

// What a child writes to report_fd once it is ready to be killed (its image is
// open): the delay counts from there, so a slow start on a loaded machine
// (sanitizers, a busy CI host) does not eat the time the kill was meant for.
constexpr uint64_t kChildReady = ~uint64_t{0};

inline void report_ready(int report_fd) {
  if (::write(report_fd, &kChildReady, sizeof kChildReady) != sizeof kChildReady) _exit(10);
}

// Forks, runs child(report_fd) in the child (it must end with _exit), waits
// for its kChildReady, kills it with SIGKILL after `delay` and reaps it.
// `reported` gets the numbers the child wrote to report_fd after
// kChildReady, in order. Use inside ASSERT_NO_FATAL_FAILURE.
template <typename Child>
void kill_child_after(Child child, std::chrono::microseconds delay,
                      std::vector<uint64_t>* reported) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipe_fds[0]);
    child(pipe_fds[1]);
    _exit(0);
  }
  close(pipe_fds[1]);
  pollfd ready{pipe_fds[0], POLLIN, 0};
  uint64_t value = 0;
  bool started = poll(&ready, 1, 60'000) == 1 &&
                 read(pipe_fds[0], &value, sizeof value) == sizeof value && value == kChildReady;
  if (started) std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(started) << "the child never became ready (wait status " << status << ")";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child failed with exit status " << WEXITSTATUS(status);
  while (read(pipe_fds[0], &value, sizeof value) == sizeof value) reported->push_back(value);
  close(pipe_fds[0]);
}

}  // namespace vessel::block::testing

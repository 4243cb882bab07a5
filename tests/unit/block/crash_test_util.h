// Crash tests: run a writer in a child process and kill it with SIGKILL at
// a chosen instant, keeping what it reported before it died.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace vessel::block::testing {

// Forks, runs child(report_fd) in the child (it must end with _exit), kills
// the child with SIGKILL after `delay` and reaps it. `reported` gets the
// numbers the child wrote to report_fd, in order. Use inside
// ASSERT_NO_FATAL_FAILURE.
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
  std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  uint64_t value;
  while (read(pipe_fds[0], &value, sizeof value) == sizeof value) reported->push_back(value);
  close(pipe_fds[0]);
}

}  // namespace vessel::block::testing

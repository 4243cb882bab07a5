// The exit statuses of `vessel run`, shared with its --help text.
#pragma once

namespace vessel::cli {

inline constexpr int kExitOk = 0;         // guest powered off / test device passed / Ctrl-A x
inline constexpr int kExitHostError = 1;  // bad option, unreadable file, ...
inline constexpr int kExitReboot = 2;     // a reboot or reset request under --no-reboot
inline constexpr int kExitHalted = 3;     // every hart waits for an interrupt that cannot come

// The test device's "fail with code N" (QEMU's sifive_test convention: the
// process exits with N). Only 8 bits reach the parent; a failure whose low
// bits are 0 still must not look like success, so it becomes 1.
inline int exit_status_for_failure(int code) {
  int status = code & 0xff;
  return status == 0 ? 1 : status;
}

inline constexpr const char* kExitStatusHelp =
    "Exit status:\n"
    "  0       the guest powered off (or its test device reported success),\n"
    "          or the user quit with Ctrl-A x\n"
    "  1       host-side error: bad option, unreadable or invalid file, ...\n"
    "  2       with --no-reboot: the guest requested a reboot, or QMP\n"
    "          system_reset a reset\n"
    "  3       the guest halted: every hart waits for an interrupt that can\n"
    "          never arrive\n"
    "  N       the guest's test device reported \"fail with code N\" (QEMU's\n"
    "          convention; low 8 bits, 1 if those are 0)\n"
    "  128+S   stopped by host signal S (SIGINT, SIGTERM or SIGHUP)\n";

}  // namespace vessel::cli

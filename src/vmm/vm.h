// One virtual machine in this process: a `virt` board, one host thread per
// hart, the console and the serial output. Vm::run() blocks until the guest
// powers off, fails, halts for good, or the user stops it. A reset request
// (the guest's reboot, QMP system_reset) resets the machine in place and
// boots it again, as QEMU does; with RebootAction::kShutdown it ends run()
// instead (QEMU's -no-reboot).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/state.h"
#include "machine/board.h"
#include "vmm/halt_detector.h"
#include "vmm/serial_sink.h"
#include "vmm/serial_socket.h"
#include "vmm/signals.h"

namespace vessel::vmm {

// What a reset request does (QEMU's -action reboot=reset|shutdown).
enum class RebootAction : uint8_t {
  kReset,     // reset the machine and boot again in this process
  kShutdown,  // end run() with the request as the reason (-no-reboot)
};

struct VmConfig {
  machine::BoardConfig board;  // serial_output and power are set by the Vm
  SerialTarget serial;
  // Feed the host's stdin to the guest's UART (unless a socket serves the
  // console: its client types instead).
  bool attach_stdin = true;
  bool handle_signals = true;  // SIGINT/SIGTERM/SIGHUP stop the VM cleanly
  RebootAction reboot = RebootAction::kReset;
};

struct VmExit {
  enum class Reason : uint8_t {
    kPowerOff,      // the guest powered off (or its test device passed)
    kReset,         // the guest asked for a reboot
    kHostReset,     // the host asked for a reset (QMP system_reset)
    kGuestFailure,  // the test device reported failure `code`
    kHalted,        // every hart waits for an interrupt none can receive
    kQuit,          // the user quit from the console (Ctrl-A x)
    kSignal,        // a host signal (`code` = its number)
  };
  Reason reason = Reason::kPowerOff;
  int code = 0;
};

class Vm {
 public:
  // Instructions a hart runs between checks for stop requests and timers.
  static constexpr uint64_t kSlice = 20'000;

  static Result<std::unique_ptr<Vm>> create(VmConfig config);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // Runs the guest until it or the user stops it; may be called again after
  // it returns (the harts continue where they stopped). A stop requested
  // before run() (a signal, say) makes it return at once. Resets in place
  // happen within run(): the vCPU threads, the console and the devices'
  // host sides (disks, NIC backends) stay.
  Result<VmExit> run();
  // Thread-safe; the first request of a run() that ends it wins. A reset
  // (kReset, kHostReset under RebootAction::kReset) does not end run(): it
  // happens once the harts have stopped, and a stop that comes meanwhile
  // ends run() instead.
  void request_stop(VmExit exit);
  bool stop_requested() const { return stopping_.load(std::memory_order_acquire); }

  // Called on run()'s thread after each reset in place, with the request
  // that caused it, before the harts run again. Set it before run().
  void on_reset(std::function<void(const VmExit&)> observer) { on_reset_ = std::move(observer); }

  // Parks every vCPU at its next check (within one slice) and returns once
  // all are parked, or at once when run() is not executing (the vCPUs then
  // park as they start). The guest clock stands still while paused, so the
  // guest sees no time pass (QMP `stop`). Thread-safe.
  void pause();
  // Lets parked vCPUs go on (QMP `cont`). Thread-safe.
  void resume();
  bool paused() const { return pause_requested_.load(std::memory_order_acquire); }
  // Host thread IDs of the vCPU threads (0 before the first run()).
  std::vector<int> vcpu_thread_ids() const;

  machine::Board& board() { return *board_; }

  // The whole machine (every hart, every device, RAM) in the versioned state
  // format. Only while run() is not executing or the VM is paused. A VM restored from it must be
  // created from the same configuration.
  Result<void> save(StateWriter& out, bool include_ram = true) const;
  // Also into a paused VM (loadvm): it resumes where the state left off. A
  // state that fails part way leaves the machine undefined; it stays paused.
  Result<void> restore(StateReader& in);
  // The guest clock in nanoseconds (where it stands still while paused).
  uint64_t guest_clock_ns() const;

 private:
  explicit Vm(VmConfig config) : config_(std::move(config)) {}
  void serial_output(uint8_t byte);
  void vcpu_loop(unsigned hart);
  void park();
  // No hart runs: run() is not executing, or every vCPU is parked.
  bool quiescent() const;
  bool resets_in_place(const VmExit& exit) const;
  // Waits for a stop (returned) or a reset request (done here, then waits on).
  VmExit run_until_stop();
  // Once every vCPU is parked: the machine reset, then the vCPUs let go.
  void reset_in_place(const VmExit& cause);

  VmConfig config_;
  // Created before any other thread (they inherit its signal mask), ended
  // first in ~Vm (its thread calls request_stop()).
  std::unique_ptr<SignalWatcher> signals_;
  std::unique_ptr<SerialSink> serial_;
  std::unique_ptr<machine::Board> board_;
  // After the board: its thread feeds the board's UART until destroyed.
  std::unique_ptr<SerialSocket> serial_socket_;
  std::unique_ptr<HaltDetector> halt_detector_;

  std::atomic<bool> board_ready_{false};  // request_stop() may come from the signal thread
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::optional<VmExit> exit_;
  // A reset waiting for the vCPUs to park; reset_pending_ is true exactly
  // when reset_ holds its cause (both under stop_mutex_).
  std::optional<VmExit> reset_;
  std::atomic<bool> reset_pending_{false};
  std::function<void(const VmExit&)> on_reset_;
  // Held while the whole machine is reset or saved, so neither sees the
  // other half done. Taken before pause_mutex_.
  mutable std::mutex machine_mutex_;

  std::atomic<bool> pause_requested_{false};
  mutable std::mutex pause_mutex_;
  std::condition_variable pause_cv_;
  unsigned parked_ = 0;        // vCPUs in park()
  uint64_t paused_ticks_ = 0;  // the guest clock when pause() took effect
  std::unique_ptr<std::atomic<int>[]> vcpu_tids_;
};

}  // namespace vessel::vmm

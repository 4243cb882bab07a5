#include "vmm/vm.h"

#include <unistd.h>

#include "cpu/riscv/hart.h"
#include "vmm/console.h"
#include "vmm/terminal.h"

namespace vessel::vmm {
namespace {

using cpu::riscv::Hart;
using cpu::riscv::RunExit;

VmExit exit_for(const machine::PowerEvent& event) {
  switch (event.kind) {
    case machine::PowerEvent::Kind::kPowerOff:
      return {VmExit::Reason::kPowerOff, 0};
    case machine::PowerEvent::Kind::kReset:
      return {VmExit::Reason::kReset, 0};
    case machine::PowerEvent::Kind::kFail:
      return {VmExit::Reason::kGuestFailure, event.code};
  }
  return {VmExit::Reason::kPowerOff, 0};
}

}  // namespace

Result<std::unique_ptr<Vm>> Vm::create(VmConfig config) {
  std::unique_ptr<Vm> vm(new Vm(std::move(config)));
  // Before the board: devices may start threads, which must inherit the mask.
  if (vm->config_.handle_signals) {
    TRY_ASSIGN(vm->signals_, SignalWatcher::start([v = vm.get()](int signo) {
                 v->request_stop({VmExit::Reason::kSignal, signo});
               }));
  }
  TRY_ASSIGN(vm->serial_, SerialSink::open(vm->config_.serial));
  machine::BoardConfig board = vm->config_.board;
  board.serial_output = [v = vm.get()](uint8_t byte) { v->serial_output(byte); };
  board.power = [v = vm.get()](machine::PowerEvent event) { v->request_stop(exit_for(event)); };
  TRY_ASSIGN(vm->board_, machine::Board::create(std::move(board)));
  if (vm->config_.serial.kind == SerialTarget::Kind::kSocket) {
    SerialSocket::Input input{
        [v = vm.get()](uint8_t byte) { v->board_->serial_input(byte); },
        [v = vm.get()] { return v->board_->serial_input_space(); },
    };
    TRY_ASSIGN(vm->serial_socket_, SerialSocket::listen(vm->config_.serial.path, std::move(input)));
  }
  vm->vcpu_tids_ = std::make_unique<std::atomic<int>[]>(vm->board_->hart_count());
  vm->halt_detector_ = std::make_unique<HaltDetector>(
      vm->board_->hart_count(),
      [v = vm.get()](unsigned hart) { return v->board_->ipi_pending(hart); });
  vm->board_ready_.store(true, std::memory_order_release);
  return vm;
}

Vm::~Vm() {
  // The watcher's thread calls request_stop(): end it while everything that
  // call touches (the board, the stop state) still exists.
  signals_.reset();
}

void Vm::serial_output(uint8_t byte) {
  if (serial_) serial_->write(byte);
  if (serial_socket_) serial_socket_->write(byte);
}

bool Vm::resets_in_place(const VmExit& exit) const {
  return config_.reboot == RebootAction::kReset &&
         (exit.reason == VmExit::Reason::kReset || exit.reason == VmExit::Reason::kHostReset);
}

void Vm::request_stop(VmExit exit) {
  {
    // Under the lock, so run()'s reset for the next run cannot slip in
    // between: stopping_ is true exactly when exit_ holds a reason.
    std::lock_guard lock(stop_mutex_);
    if (resets_in_place(exit)) {
      if (!reset_) reset_ = exit;
      reset_pending_.store(true, std::memory_order_release);
    } else {
      if (!exit_) exit_ = exit;
      stopping_.store(true, std::memory_order_release);
    }
  }
  if (board_ready_.load(std::memory_order_acquire)) {
    for (unsigned h = 0; h < board_->hart_count(); ++h) board_->hart(h).kick();
  }
  stop_cv_.notify_all();
  {
    // Parked vCPUs wake up to stop; the lock orders this after their check.
    std::lock_guard lock(pause_mutex_);
  }
  pause_cv_.notify_all();
}

void Vm::pause() {
  std::unique_lock lock(pause_mutex_);
  if (pause_requested_.exchange(true)) return;
  for (unsigned h = 0; h < board_->hart_count(); ++h) board_->hart(h).kick();
  pause_cv_.wait(lock, [this] {
    return parked_ == board_->hart_count() || !running_.load() ||
           stopping_.load(std::memory_order_acquire);
  });
  // Time stops where the last vCPU parked.
  paused_ticks_ = board_->clock().ticks();
}

void Vm::resume() {
  {
    std::lock_guard lock(pause_mutex_);
    if (!pause_requested_.load()) return;
    board_->clock().set_ticks(paused_ticks_);
    pause_requested_.store(false, std::memory_order_release);
  }
  pause_cv_.notify_all();
}

void Vm::park() {
  std::unique_lock lock(pause_mutex_);
  ++parked_;
  pause_cv_.notify_all();
  pause_cv_.wait(lock, [this] {
    return (!pause_requested_.load() && !reset_pending_.load()) ||
           stopping_.load(std::memory_order_acquire);
  });
  --parked_;
}

std::vector<int> Vm::vcpu_thread_ids() const {
  std::vector<int> ids;
  for (unsigned h = 0; h < board_->hart_count(); ++h) ids.push_back(vcpu_tids_[h].load());
  return ids;
}

void Vm::vcpu_loop(unsigned index) {
  Hart& hart = board_->hart(index);
  vcpu_tids_[index].store(static_cast<int>(gettid()));
  while (!stopping_.load(std::memory_order_acquire)) {
    if (pause_requested_.load(std::memory_order_acquire) ||
        reset_pending_.load(std::memory_order_acquire)) {
      park();
      continue;
    }
    RunExit exit = hart.run(kSlice);
    board_->update_timer(index);
    if (exit != RunExit::kWaitForInterrupt) continue;

    HaltDetector::Wait how = HaltDetector::classify(hart.interrupt_enable());
    if (how == HaltDetector::Wait::kAnyInterrupt) {
      hart.wait_for_interrupt(board_->clock(),
                              [this, index] { return board_->next_timer_deadline(index); });
      board_->update_timer(index);
      continue;
    }
    // Only another hart (or nothing) can wake this one: no timer to wait for.
    if (halt_detector_->waiting(index, how)) request_stop({VmExit::Reason::kHalted, 0});
    hart.wait_for_interrupt(board_->clock(), [] { return UINT64_MAX; });
    halt_detector_->running(index);
  }
}

VmExit Vm::run_until_stop() {
  for (;;) {
    std::unique_lock lock(stop_mutex_);
    stop_cv_.wait(lock, [this] { return exit_.has_value() || reset_.has_value(); });
    if (exit_) return *exit_;
    const VmExit cause = *reset_;
    lock.unlock();
    reset_in_place(cause);
  }
}

// QEMU's pause_all_vcpus(); qemu_system_reset(); resume_all_vcpus(): the
// same vCPU threads go on (their host thread IDs, which a management tool
// may have pinned, stay), and a VM paused before stays paused.
void Vm::reset_in_place(const VmExit& cause) {
  {
    std::lock_guard machine(machine_mutex_);
    std::unique_lock lock(pause_mutex_);
    pause_cv_.wait(lock, [this] {
      return parked_ == board_->hart_count() || stopping_.load(std::memory_order_acquire);
    });
    if (stopping_.load(std::memory_order_acquire)) return;  // run() ends instead
    board_->reset();
    halt_detector_->reset();
    // A paused VM stands still at the reset clock.
    if (pause_requested_.load()) paused_ticks_ = board_->clock().ticks();
    {
      std::lock_guard stop(stop_mutex_);
      reset_.reset();
      reset_pending_.store(false, std::memory_order_release);
    }
  }
  pause_cv_.notify_all();
  if (on_reset_) on_reset_(cause);
}

Result<VmExit> Vm::run() {
  if (running_.exchange(true)) return Error("the VM is already running");
  struct Running {
    std::atomic<bool>& flag;
    ~Running() { flag.store(false); }
  } running{running_};
  // QEMU's wait=on: the guest starts once the console has a client.
  if (serial_socket_ && config_.serial.wait) {
    serial_socket_->wait_for_client([this] { return stop_requested(); });
  }
  std::unique_ptr<RawTerminal> terminal;
  std::unique_ptr<Console> console;
  if (config_.attach_stdin && !serial_socket_) {
    TRY_ASSIGN(terminal, RawTerminal::enter(STDIN_FILENO));
    Console::Callbacks callbacks{
        [this](uint8_t byte) { board_->serial_input(byte); },
        [this] { return board_->serial_input_space(); },
        [this] {
          request_stop({VmExit::Reason::kQuit, 0});
        },
    };
    TRY_ASSIGN(console, Console::start(STDIN_FILENO, terminal != nullptr, std::move(callbacks)));
  }

  std::vector<std::thread> vcpus;
  for (unsigned h = 0; h < board_->hart_count(); ++h) {
    vcpus.emplace_back([this, h] { vcpu_loop(h); });
  }
  VmExit exit = run_until_stop();
  for (std::thread& t : vcpus) t.join();
  console.reset();
  terminal.reset();

  // Ready for another run(). A reset that lost to the stop is dropped.
  std::lock_guard lock(stop_mutex_);
  exit_.reset();
  stopping_.store(false);
  reset_.reset();
  reset_pending_.store(false);
  halt_detector_->reset();
  return exit;
}

bool Vm::quiescent() const {
  std::lock_guard lock(pause_mutex_);
  return !running_.load() || (pause_requested_.load() && parked_ == board_->hart_count());
}

Result<void> Vm::save(StateWriter& out, bool include_ram) const {
  std::lock_guard machine(machine_mutex_);
  if (!quiescent()) return Error("cannot save the state of a running VM");
  out.begin_section("vessel-vm", 1);
  board_->save(out, include_ram);
  out.end_section();
  return Ok();
}

Result<void> Vm::restore(StateReader& in) {
  if (!quiescent()) return Error("cannot restore state into a running VM");
  TRY(in.begin_section("vessel-vm", 1));
  TRY(board_->load(in));
  TRY(in.end_section());
  if (!in.at_end()) return Error("saved state has trailing data");
  // A paused VM goes on from the restored time, not from where it paused.
  std::lock_guard lock(pause_mutex_);
  if (pause_requested_.load()) paused_ticks_ = board_->clock().ticks();
  return Ok();
}

uint64_t Vm::guest_clock_ns() const {
  std::lock_guard lock(pause_mutex_);
  uint64_t ticks = pause_requested_.load() ? paused_ticks_ : board_->clock().ticks();
  return ticks * (1'000'000'000 / GuestClock::kFrequency);
}

}  // namespace vessel::vmm

// The `virt` board: guest RAM, harts and devices at the addresses of
// memory_map.h, wired together, with firmware/kernel loaded and the harts
// at their reset state. The board runs nothing itself: the vmm drives each
// hart from its own thread through this interface.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "base/state.h"
#include "block/block_backend.h"
#include "machine/board_config.h"
#include "machine/boot.h"
#include "machine/boot_images.h"
#include "memory/address_space.h"

namespace vessel::cpu::riscv {
class Hart;
}
namespace vessel::devices {
class Plic;
class Clint;
class Uart16550;
class GoldfishRtc;
class TestDevice;
class SifiveGpio;
class PushButton;
}  // namespace vessel::devices
namespace vessel::devices::virtio {
class VirtioMmio;
}

namespace vessel::machine {

class EmptyVirtioSlot;

class Board {
 public:
  // Validates `config`, builds the board and loads the boot images. Errors
  // are one line naming the problem (and the file, for image errors).
  static Result<std::unique_ptr<Board>> create(BoardConfig config);
  ~Board();
  Board(const Board&) = delete;
  Board& operator=(const Board&) = delete;

  unsigned hart_count() const { return static_cast<unsigned>(harts_.size()); }
  cpu::riscv::Hart& hart(unsigned index) { return *harts_[index]; }
  GuestClock& clock() { return clock_; }
  memory::AddressSpace& bus() { return bus_; }
  const BootInfo& boot_info() const { return boot_; }
  const BoardConfig& config() const { return config_; }

  // Brings mtip of `hart` up to date with the guest clock (call after each
  // run slice and after every wake-up).
  void update_timer(unsigned hart);
  // The next guest-clock tick at which a timer interrupt may become pending
  // for `hart` (machine or supervisor timer), UINT64_MAX if none is armed.
  uint64_t next_timer_deadline(unsigned hart);

  // Whether `hart`'s machine software interrupt (the CLINT's MSIP) is raised.
  bool ipi_pending(unsigned hart);

  // Size in bytes of disk `index` (in config().disks order).
  uint64_t disk_size(size_t index) const;
  // The image under disk `index`, for the VMM's snapshot commands. Its data
  // may be used only while no hart runs (the VM paused); what it is (path,
  // format, backing chain) at any time from the thread that replaces images.
  block::BlockBackend& disk_image(size_t index);
  // Gives disk `index` a new image while the guest runs: with the guest's
  // requests to the disk held back (those in progress finish first),
  // `open_new` gets the current image and returns the one to use from now on
  // (the same size; the old one is closed afterwards), and config() then
  // describes the disk as `disk`. When `open_new` fails nothing changes.
  using DiskChange =
      std::function<Result<std::unique_ptr<block::BlockBackend>>(block::BlockBackend& current)>;
  Result<void> replace_disk_image(size_t index, DiskConfig disk, const DiskChange& open_new);

  // A byte typed on the console, for UART0's receiver. Thread-safe.
  void serial_input(uint8_t byte);
  // How many more bytes UART0's receive buffer takes before dropping input.
  size_t serial_input_space() const;

  // Presses the power button (GPIO pin kPowerButtonPin, KEY_POWER in the
  // device tree): the pin is held active for 100 ms, then the button lets go
  // by itself. The guest decides what a press means (the default guest
  // powers off). Thread-safe: callable from any thread while harts run.
  void press_power_button();
  bool power_button_pressed() const;

  // Puts every hart back at its boot state (registers as after create()).
  // Guest RAM is not reloaded.
  void reset_harts();

  // A machine reset, as QEMU's qemu_system_reset(): every device back at its
  // reset state (the guest clock at 0), the boot images copied back into
  // RAM, every hart at its boot state. What is outside the machine stays:
  // disk contents, NIC backends, the power button's press, the rest of RAM.
  // Only while no hart runs.
  void reset();

  // Full machine state: clock, harts, devices, RAM. Only while no hart runs.
  // The restoring board must be built from the same configuration.
  // Without `include_ram` the RAM section is empty and load() leaves RAM
  // as it is (live migration sends RAM pages first, separately).
  void save(StateWriter& out, bool include_ram = true) const;
  Result<void> load(StateReader& in);

 private:
  explicit Board(BoardConfig config);
  Result<void> build();
  Result<void> map(uint64_t base, uint64_t size, memory::MmioHandler* handler, std::string name);

  BoardConfig config_;
  GuestClock clock_;
  memory::AddressSpace bus_;
  std::vector<std::unique_ptr<cpu::riscv::Hart>> harts_;
  std::unique_ptr<devices::Plic> plic_;
  std::unique_ptr<devices::Clint> clint_;
  std::unique_ptr<devices::Uart16550> uart_;
  std::unique_ptr<devices::GoldfishRtc> rtc_;
  std::unique_ptr<devices::TestDevice> test_;
  std::unique_ptr<devices::SifiveGpio> gpio_;
  std::unique_ptr<devices::PushButton> power_button_;  // after gpio_: its thread drives gpio_
  std::vector<std::unique_ptr<devices::virtio::VirtioMmio>> virtio_;  // slots 0..n-1
  std::vector<std::unique_ptr<EmptyVirtioSlot>> empty_slots_;         // the remaining slots
  BootInfo boot_;
  BootImages boot_images_;  // what reset() puts back
};

}  // namespace vessel::machine

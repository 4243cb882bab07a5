#include "machine/board.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>

#include "block/qcow2.h"
#include "block/raw_file.h"
#include "cpu/riscv/hart.h"
#include "devices/clint.h"
#include "devices/goldfish_rtc.h"
#include "devices/plic.h"
#include "devices/push_button.h"
#include "devices/sifive_gpio.h"
#include "devices/test_device.h"
#include "devices/uart16550.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio_mmio.h"
#include "jit/x86_compiler.h"
#include "machine/empty_virtio_slot.h"
#include "machine/memory_map.h"
#include "memory/ram_scan.h"
#include "net/open_backend.h"

namespace vessel::machine {
namespace {

using cpu::riscv::Hart;
using cpu::riscv::InterruptBit;

std::string format_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  unsigned unit = 0;
  while (unit + 1 < std::size(kUnits) && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + " " + kUnits[unit];
}

Result<void> validate(const BoardConfig& config) {
  if (config.harts == 0 || config.harts > kMaxHarts) {
    return Error("the number of harts must be between 1 and " + std::to_string(kMaxHarts) +
                 " (got " + std::to_string(config.harts) + ")");
  }
  if (config.memory_size < kMinRamSize) {
    return Error("guest memory of " + format_size(config.memory_size) + " is too small (minimum " +
                 format_size(kMinRamSize) + ")");
  }
  if (config.memory_size > kMaxRamSize) {
    return Error("guest memory of " + format_size(config.memory_size) + " is too large (maximum " +
                 format_size(kMaxRamSize) + ")");
  }
  if (config.memory_size % memory::kPageSize != 0) {
    return Error("guest memory size must be a multiple of 4 KiB");
  }
  if (config.firmware.empty()) return Error("no firmware image given");
  if (!config.initrd.empty() && config.kernel.empty()) return Error("an initrd needs a kernel");
  size_t nics = std::count_if(config.nics.begin(), config.nics.end(), [](const auto& nic) {
    return nic.kind != net::NicConfig::Kind::kNone;
  });
  if (config.disks.size() + nics > kVirtioSlots) {
    return Error("at most " + std::to_string(kVirtioSlots) +
                 " disks and NICs fit on the board (got " + std::to_string(config.disks.size()) +
                 " disks and " + std::to_string(nics) + " NICs)");
  }
  return Ok();
}

PowerEvent to_power_event(const devices::PowerRequest& request) {
  PowerEvent event;
  event.code = request.code;
  switch (request.kind) {
    case devices::PowerRequest::Kind::kPowerOff:
      event.kind = PowerEvent::Kind::kPowerOff;
      break;
    case devices::PowerRequest::Kind::kReset:
      event.kind = PowerEvent::Kind::kReset;
      break;
    case devices::PowerRequest::Kind::kFail:
      event.kind = PowerEvent::Kind::kFail;
      break;
  }
  return event;
}

// How long a press of the power button holds its pin active. gpio-keys
// takes both edges, waits out its 5 ms software debounce after the last
// one and then reads the pin: a press counts only if the pin is still active
// then. 100 ms, like a short press of a finger, leaves the guest 95 ms of
// interrupt and timer latency (a busy host, a slow vCPU) before the press
// would be lost, and is far below any long-press.
constexpr std::chrono::milliseconds kPowerButtonHold{100};

// Version 2 added the GPIO controller and the power button; loading a
// version 1 state leaves them as they are.
constexpr uint32_t kBoardStateVersion = 2;

// Guest RAM in the saved state: only pages holding a non-zero byte, so an
// idle 512 MiB guest saves in megabytes.
constexpr uint64_t kEndOfPages = ~uint64_t{0};

// Listed first, so that the state buffer is sized once for them.
std::vector<uint64_t> pages_with_data(const memory::AddressSpace& bus) {
  std::vector<uint64_t> pages;
  memory::RamScan scan(bus);
  for (uint64_t page = 0; page < bus.ram_size() / memory::kPageSize; ++page) {
    if (!scan.is_zero(page)) pages.push_back(page);
  }
  return pages;
}

}  // namespace

Board::Board(BoardConfig config) : config_(std::move(config)) {}

Board::~Board() = default;

Result<std::unique_ptr<Board>> Board::create(BoardConfig config) {
  TRY(validate(config));
  std::unique_ptr<Board> board(new Board(std::move(config)));
  TRY(board->build());
  return board;
}

Result<void> Board::map(uint64_t base, uint64_t size, memory::MmioHandler* handler,
                        std::string name) {
  return bus_.map_mmio(base, size, handler, std::move(name));
}

Result<void> Board::build() {
  TRY(bus_.map_ram(map_entry(Region::kRam).base, config_.memory_size));

  for (unsigned h = 0; h < config_.harts; ++h) {
    harts_.push_back(std::make_unique<Hart>(bus_, clock_, h));
    if (config_.cpu == CpuEngine::kJit) {
      jit::JitOptions options;
      options.code_cache_size = config_.code_cache_size.value_or(jit::kDefaultCodeCacheSize);
      options.perf_map = config_.jit_perf_map;
      TRY_ASSIGN(auto compiler, jit::make_x86_compiler(harts_.back()->jit_layout(), options));
      harts_.back()->set_compiler(std::move(compiler),
                                  config_.jit_hot_runs.value_or(cpu::riscv::kDefaultHotRuns));
    }
  }
  auto pin = [this](unsigned hart, unsigned bit) -> devices::IrqLine {
    return [this, hart, bit](bool level) { harts_[hart]->set_interrupt_pending(bit, level); };
  };

  // PLIC context 2h drives hart h's MEIP, context 2h+1 its SEIP.
  std::vector<devices::IrqLine> contexts;
  std::vector<devices::IrqLine> msip;
  std::vector<devices::IrqLine> mtip;
  for (unsigned h = 0; h < config_.harts; ++h) {
    contexts.push_back(pin(h, InterruptBit::kMeip));
    contexts.push_back(pin(h, InterruptBit::kSeip));
    msip.push_back(pin(h, InterruptBit::kMsip));
    mtip.push_back(pin(h, InterruptBit::kMtip));
  }
  plic_ = std::make_unique<devices::Plic>(config_.harts, std::move(contexts));
  clint_ = std::make_unique<devices::Clint>(config_.harts, clock_, std::move(msip), std::move(mtip),
                                            [this](unsigned hart) { harts_[hart]->retime(); });
  auto source = [this](unsigned irq) -> devices::IrqLine {
    return [this, irq](bool level) { plic_->set_source_level(irq, level); };
  };

  uart_ = std::make_unique<devices::Uart16550>(source(map_entry(Region::kUart0).irq),
                                               [this](uint8_t byte) {
                                                 if (config_.serial_output) {
                                                   config_.serial_output(byte);
                                                 }
                                               });
  rtc_ = std::make_unique<devices::GoldfishRtc>(source(map_entry(Region::kRtc).irq));
  test_ = std::make_unique<devices::TestDevice>([this](devices::PowerRequest request) {
    if (config_.power) config_.power(to_power_event(request));
  });

  std::vector<devices::IrqLine> gpio_lines;
  for (unsigned p = 0; p < kGpioPins; ++p) gpio_lines.push_back(source(gpio_pin_irq(p)));
  gpio_ = std::make_unique<devices::SifiveGpio>(std::move(gpio_lines));
  // The button drives its pin from the start: low while released.
  gpio_->set_input(kPowerButtonPin, false);
  power_button_ = std::make_unique<devices::PushButton>(
      [this](bool pressed) { gpio_->set_input(kPowerButtonPin, pressed); }, kPowerButtonHold);

  for (const MemoryMapEntry& e : kMemoryMap) {
    switch (e.region) {
      case Region::kTest:
        TRY(map(e.base, e.size, test_.get(), "test"));
        break;
      case Region::kRtc:
        TRY(map(e.base, e.size, rtc_.get(), "rtc"));
        break;
      case Region::kClint:
        TRY(map(e.base, e.size, clint_.get(), "clint"));
        break;
      case Region::kPlic:
        TRY(map(e.base, e.size, plic_.get(), "plic"));
        break;
      case Region::kUart0:
        TRY(map(e.base, e.size, uart_.get(), "uart0"));
        break;
      case Region::kGpio:
        TRY(map(e.base, e.size, gpio_.get(), "gpio"));
        break;
      case Region::kVirtio:
      case Region::kRam:
        break;  // below / above
    }
  }

  // Virtio devices fill the slots from the lowest address: disks in order,
  // NICs in order, then the entropy source.
  std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> functions;
  for (size_t i = 0; i < config_.disks.size(); ++i) {
    const DiskConfig& disk = config_.disks[i];
    std::unique_ptr<block::BlockBackend> backend;
    if (disk.format == block::ImageFormat::kQcow2) {
      block::Qcow2OpenOptions options;
      options.access = disk.read_only ? block::Access::kReadOnly : block::Access::kReadWrite;
      TRY_ASSIGN(backend, block::Qcow2Image::open(disk.path, options));
    } else {
      TRY_ASSIGN(backend, block::RawFile::open(disk.path, disk.read_only));
    }
    functions.push_back(std::make_unique<devices::virtio::VirtioBlk>(
        std::move(backend), disk.read_only, "disk" + std::to_string(i)));
  }
  unsigned nic_index = 0;
  for (const net::NicConfig& nic : config_.nics) {
    if (nic.kind == net::NicConfig::Kind::kNone) continue;
    TRY_ASSIGN(std::unique_ptr<net::NetBackend> backend, net::open_backend(nic));
    net::MacAddress mac = nic.mac_given ? nic.mac : net::default_mac(nic_index);
    functions.push_back(std::make_unique<devices::virtio::VirtioNet>(std::move(backend), mac));
    ++nic_index;
  }
  if (config_.rng && functions.size() < kVirtioSlots) {
    functions.push_back(std::make_unique<devices::virtio::VirtioRng>());
  }
  for (unsigned slot = 0; slot < kVirtioSlots; ++slot) {
    const uint64_t base = virtio_slot_base(slot);
    const uint64_t size = map_entry(Region::kVirtio).size;
    const std::string name = "virtio" + std::to_string(slot);
    if (slot < functions.size()) {
      virtio_.push_back(std::make_unique<devices::virtio::VirtioMmio>(
          bus_, source(virtio_slot_irq(slot)), std::move(functions[slot])));
      TRY(map(base, size, virtio_.back().get(), name));
    } else {
      empty_slots_.push_back(std::make_unique<EmptyVirtioSlot>());
      TRY(map(base, size, empty_slots_.back().get(), name));
    }
  }

  TRY_ASSIGN(boot_, load_boot_images(bus_, config_));
  boot_images_ = BootImages::capture(bus_, boot_);
  reset_harts();
  return Ok();
}

void Board::reset() {
  // Devices first: their interrupt lines fall before the PLIC and CLINT
  // settle the harts' pins, and those before the harts restart.
  for (auto& device : virtio_) device->reset();
  uart_->reset();
  rtc_->reset();
  gpio_->reset();
  plic_->reset();
  clint_->reset();
  boot_images_.reload(bus_);
  reset_harts();
}

void Board::reset_harts() {
  for (unsigned h = 0; h < hart_count(); ++h) {
    Hart& hart = *harts_[h];
    hart.reset(boot_.entry());
    hart.set_reg(10, h);                              // a0: hart ID
    hart.set_reg(11, boot_.dtb_address);              // a1: device tree
    hart.set_reg(12, boot_.fw_dynamic_info_address);  // a2: fw_dynamic_info
  }
}

void Board::update_timer(unsigned hart) {
  clint_->update_timer(hart);
}

uint64_t Board::next_timer_deadline(unsigned hart) {
  return std::min(clint_->timer_deadline(hart), harts_[hart]->supervisor_timer_deadline());
}

bool Board::ipi_pending(unsigned hart) {
  uint64_t msip = 0;
  return clint_->mmio_read(uint64_t{4} * hart, 4, msip) && (msip & 1) != 0;
}

uint64_t Board::disk_size(size_t index) const {
  // Disks take the first slots (build()).
  auto& blk = static_cast<const devices::virtio::VirtioBlk&>(virtio_.at(index)->device());
  return blk.capacity_sectors() * devices::virtio::VirtioBlk::kSectorSize;
}

block::BlockBackend& Board::disk_image(size_t index) {
  auto& blk = static_cast<devices::virtio::VirtioBlk&>(virtio_.at(index)->device());
  return blk.backend();
}

Result<void> Board::replace_disk_image(size_t index, DiskConfig disk, const DiskChange& open_new) {
  if (index >= config_.disks.size()) return Error("no disk " + std::to_string(index));
  std::unique_ptr<block::BlockBackend> old;
  TRY(virtio_[index]->with_device_quiesced(
      [&](devices::virtio::VirtioDevice& device) -> Result<void> {
        auto& blk = static_cast<devices::virtio::VirtioBlk&>(device);
        TRY_ASSIGN(std::unique_ptr<block::BlockBackend> image, open_new(blk.backend()));
        TRY_ASSIGN(old, blk.swap_backend(std::move(image)));
        return Ok();
      }));
  config_.disks[index] = std::move(disk);
  // Closed outside the lock: the guest's requests go on meanwhile.
  old.reset();
  return Ok();
}

void Board::serial_input(uint8_t byte) {
  uart_->receive(byte);
}

size_t Board::serial_input_space() const {
  return uart_->rx_space();
}

void Board::press_power_button() {
  power_button_->press();
}

bool Board::power_button_pressed() const {
  return power_button_->pressed();
}

void Board::save(StateWriter& out, bool include_ram) const {
  out.begin_section("board", kBoardStateVersion);
  out.u32(hart_count());
  out.u64(bus_.ram_size());
  out.u32(static_cast<uint32_t>(virtio_.size()));
  out.u64(clock_.ticks());
  out.end_section();

  for (const auto& hart : harts_) hart->save(out);
  plic_->save(out);
  clint_->save(out);
  uart_->save(out);
  rtc_->save(out);
  test_->save(out);
  gpio_->save(out);
  power_button_->save(out);
  for (const auto& device : virtio_) device->save(out);

  std::vector<uint64_t> data_pages;
  if (include_ram) data_pages = pages_with_data(bus_);
  out.reserve(data_pages.size() * (memory::kPageSize + 2 * sizeof(uint64_t)) + 64);
  out.begin_section("ram", 2);
  out.u64(bus_.ram_size());
  out.boolean(include_ram);
  const uint8_t* ram = bus_.ram_host();
  for (uint64_t page : data_pages) {
    out.u64(page * memory::kPageSize);
    out.bytes({ram + page * memory::kPageSize, memory::kPageSize});
  }
  out.u64(kEndOfPages);
  out.end_section();
}

Result<void> Board::load(StateReader& in) {
  TRY_ASSIGN(const uint32_t version, in.begin_section("board", kBoardStateVersion));
  uint32_t harts = in.u32();
  uint64_t ram_size = in.u64();
  uint32_t virtio = in.u32();
  uint64_t ticks = in.u64();
  TRY(in.end_section());
  if (harts != hart_count() || ram_size != bus_.ram_size() || virtio != virtio_.size()) {
    return Error("saved state is for a different board (" + std::to_string(harts) + " harts, " +
                 format_size(ram_size) + ", " + std::to_string(virtio) +
                 " virtio devices); this one has " + std::to_string(hart_count()) + " harts, " +
                 format_size(bus_.ram_size()) + ", " + std::to_string(virtio_.size()));
  }
  // First, so the timer devices restore against the saved time.
  clock_.set_ticks(ticks);

  for (auto& hart : harts_) TRY(hart->load(in));
  TRY(plic_->load(in));
  TRY(clint_->load(in));
  TRY(uart_->load(in));
  TRY(rtc_->load(in));
  TRY(test_->load(in));
  if (version >= 2) {
    TRY(gpio_->load(in));
    TRY(power_button_->load(in));
  }
  for (auto& device : virtio_) TRY(device->load(in));

  TRY_ASSIGN(uint32_t ram_version, in.begin_section("ram", 2));
  if (in.u64() != bus_.ram_size()) return Error("saved state: RAM size mismatch");
  // Version 2 may leave RAM out: live migration sent it before.
  if (ram_version >= 2 && !in.boolean()) {
    if (in.u64() != kEndOfPages) return Error("saved state: corrupt RAM section");
    return in.end_section();
  }
  uint8_t* ram = bus_.ram_host();
  // Dropping the pages zero-fills them, and costs no host memory until touched.
  if (madvise(ram, bus_.ram_size(), MADV_DONTNEED) != 0) {
    std::memset(ram, 0, bus_.ram_size());
  }
  for (;;) {
    uint64_t offset = in.u64();
    if (in.failed() || offset == kEndOfPages) break;
    std::span<const uint8_t> page = in.bytes_view();
    if (offset % memory::kPageSize != 0 || offset >= bus_.ram_size() ||
        page.size() != memory::kPageSize) {
      return Error("saved state: corrupt RAM page record");
    }
    std::memcpy(ram + offset, page.data(), page.size());
  }
  return in.end_section();
}

}  // namespace vessel::machine

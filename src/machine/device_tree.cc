#include "machine/device_tree.h"

#include <libfdt.h>
#include <sys/random.h>

#include <cstdio>
#include <initializer_list>
#include <string_view>

#include "machine/memory_map.h"

namespace vessel::machine {
namespace {

// libfdt's sequential-write API with the first error remembered, so the
// builder below reads as the tree it writes.
class FdtWriter {
 public:
  explicit FdtWriter(size_t capacity) : blob_(capacity) {
    check(fdt_create(blob_.data(), static_cast<int>(blob_.size())));
    check(fdt_finish_reservemap(blob_.data()));
  }

  void begin(std::string_view name) {
    check(fdt_begin_node(blob_.data(), std::string(name).c_str()));
  }
  void begin(std::string_view name, uint64_t unit_address) {
    char unit[80];
    snprintf(unit, sizeof unit, "%.*s@%llx", static_cast<int>(name.size()), name.data(),
             static_cast<unsigned long long>(unit_address));
    check(fdt_begin_node(blob_.data(), unit));
  }
  void end() { check(fdt_end_node(blob_.data())); }

  void empty(const char* name) { check(fdt_property(blob_.data(), name, nullptr, 0)); }
  void u32(const char* name, uint32_t value) { check(fdt_property_u32(blob_.data(), name, value)); }
  void u64(const char* name, uint64_t value) { check(fdt_property_u64(blob_.data(), name, value)); }
  void string(const char* name, std::string_view value) {
    check(fdt_property_string(blob_.data(), name, std::string(value).c_str()));
  }
  // A string list ("a\0b\0"); the single-string case is the same encoding.
  void strings(const char* name, std::initializer_list<std::string_view> values) {
    std::string joined;
    for (std::string_view v : values) {
      joined.append(v);
      joined.push_back('\0');
    }
    check(fdt_property(blob_.data(), name, joined.data(), static_cast<int>(joined.size())));
  }
  void cells(const char* name, const std::vector<uint32_t>& values) {
    std::vector<fdt32_t> be;
    be.reserve(values.size());
    for (uint32_t v : values) be.push_back(cpu_to_fdt32(v));
    check(
        fdt_property(blob_.data(), name, be.data(), static_cast<int>(be.size() * sizeof(fdt32_t))));
  }
  void bytes(const char* name, const std::vector<uint8_t>& value) {
    check(fdt_property(blob_.data(), name, value.data(), static_cast<int>(value.size())));
  }
  // reg = <address size> with #address-cells = #size-cells = 2.
  void reg(uint64_t base, uint64_t size) { cells("reg", {hi(base), lo(base), hi(size), lo(size)}); }

  Result<std::vector<uint8_t>> finish() {
    check(fdt_finish(blob_.data()));
    if (error_ != 0) return Error(std::string("device tree: ") + fdt_strerror(error_));
    blob_.resize(fdt_totalsize(blob_.data()));
    return std::move(blob_);
  }

  static uint32_t hi(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
  static uint32_t lo(uint64_t v) { return static_cast<uint32_t>(v); }

 private:
  void check(int rc) {
    if (rc < 0 && error_ == 0) error_ = rc;
  }
  std::vector<uint8_t> blob_;
  int error_ = 0;
};

void write_cpus(FdtWriter& w, unsigned harts) {
  w.begin("cpus");
  w.u32("#address-cells", 1);
  w.u32("#size-cells", 0);
  w.u32("timebase-frequency", static_cast<uint32_t>(kTimebaseFrequency));
  for (unsigned h = 0; h < harts; ++h) {
    w.begin("cpu", h);
    w.u32("phandle", phandle::cpu(h));
    w.string("device_type", "cpu");
    w.u32("reg", h);
    w.string("status", "okay");
    w.string("compatible", "riscv");
    w.string("riscv,isa", "rv64imafdc_zicsr_zifencei");
    w.string("mmu-type", "riscv,sv48");
    w.begin("interrupt-controller");
    w.u32("#interrupt-cells", 1);
    w.empty("interrupt-controller");
    w.string("compatible", "riscv,cpu-intc");
    w.u32("phandle", phandle::cpu_intc(h));
    w.end();
    w.end();
  }
  w.begin("cpu-map");
  w.begin("cluster0");
  for (unsigned h = 0; h < harts; ++h) {
    w.begin("core" + std::to_string(h));
    w.u32("cpu", phandle::cpu(h));
    w.end();
  }
  w.end();
  w.end();
  w.end();
}

// A device wired to one PLIC source.
void write_plic_device(FdtWriter& w, const MemoryMapEntry& e, uint64_t base, unsigned irq) {
  w.begin(e.name, base);
  w.u32("interrupts", irq);
  w.u32("interrupt-parent", phandle::kPlic);
  w.reg(base, e.size);
}

void write_soc(FdtWriter& w, unsigned harts) {
  w.begin("soc");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.string("compatible", "simple-bus");
  w.empty("ranges");

  const MemoryMapEntry& rtc = map_entry(Region::kRtc);
  write_plic_device(w, rtc, rtc.base, rtc.irq);
  w.string("compatible", "google,goldfish-rtc");
  w.end();

  const MemoryMapEntry& uart = map_entry(Region::kUart0);
  write_plic_device(w, uart, uart.base, uart.irq);
  w.u32("clock-frequency", 0x384000);  // 3.6864 MHz, as QEMU
  w.string("compatible", "ns16550a");
  w.end();

  const MemoryMapEntry& test = map_entry(Region::kTest);
  w.begin(test.name, test.base);
  w.u32("phandle", phandle::kTest);
  w.reg(test.base, test.size);
  w.strings("compatible", {"sifive,test1", "sifive,test0", "syscon"});
  w.end();

  // Ascending addresses: Linux probes in tree order, so the first disk
  // (slot 0) becomes /dev/vda.
  const MemoryMapEntry& virtio = map_entry(Region::kVirtio);
  for (unsigned slot = 0; slot < kVirtioSlots; ++slot) {
    write_plic_device(w, virtio, virtio_slot_base(slot), virtio_slot_irq(slot));
    w.string("compatible", "virtio,mmio");
    w.end();
  }

  // Linux's gpio-sifive takes one pin per entry of `interrupts`.
  const MemoryMapEntry& gpio = map_entry(Region::kGpio);
  w.begin(gpio.name, gpio.base);
  w.u32("phandle", phandle::kGpio);
  w.u32("ngpios", kGpioPins);
  w.u32("#gpio-cells", 2);
  w.empty("gpio-controller");
  w.u32("#interrupt-cells", 2);
  w.empty("interrupt-controller");
  std::vector<uint32_t> gpio_irqs;
  for (unsigned pin = 0; pin < kGpioPins; ++pin) gpio_irqs.push_back(gpio_pin_irq(pin));
  w.cells("interrupts", gpio_irqs);
  w.u32("interrupt-parent", phandle::kPlic);
  w.reg(gpio.base, gpio.size);
  w.string("compatible", "sifive,gpio0");
  w.end();

  const MemoryMapEntry& plic = map_entry(Region::kPlic);
  w.begin(plic.name, plic.base);
  w.u32("phandle", phandle::kPlic);
  w.u32("riscv,ndev", kPlicNdev);
  w.reg(plic.base, plic.size);
  std::vector<uint32_t> plic_irqs;
  for (unsigned h = 0; h < harts; ++h) {
    // Context 2h is hart h's M-mode (MEIP = 11), 2h+1 its S-mode (SEIP = 9).
    plic_irqs.insert(plic_irqs.end(), {phandle::cpu_intc(h), 11, phandle::cpu_intc(h), 9});
  }
  w.cells("interrupts-extended", plic_irqs);
  w.empty("interrupt-controller");
  w.strings("compatible", {"sifive,plic-1.0.0", "riscv,plic0"});
  w.u32("#address-cells", 0);
  w.u32("#interrupt-cells", 1);
  w.end();

  const MemoryMapEntry& clint = map_entry(Region::kClint);
  w.begin(clint.name, clint.base);
  std::vector<uint32_t> clint_irqs;
  for (unsigned h = 0; h < harts; ++h) {
    // Machine software (MSIP = 3) and machine timer (MTIP = 7) interrupts.
    clint_irqs.insert(clint_irqs.end(), {phandle::cpu_intc(h), 3, phandle::cpu_intc(h), 7});
  }
  w.cells("interrupts-extended", clint_irqs);
  w.reg(clint.base, clint.size);
  w.strings("compatible", {"sifive,clint0", "riscv,clint0"});
  w.end();

  w.end();
}

// The syscon-poweroff / syscon-reboot nodes that make Linux's poweroff and
// reboot write the test device (the values are sifive_test's FINISHER_PASS
// and FINISHER_RESET).
void write_power_nodes(FdtWriter& w) {
  struct Node {
    const char* name;
    uint32_t value;
    const char* compatible;
  };
  for (const Node& n :
       {Node{"poweroff", 0x5555, "syscon-poweroff"}, Node{"reboot", 0x7777, "syscon-reboot"}}) {
    w.begin(n.name);
    w.u32("value", n.value);
    w.u32("offset", 0);
    w.u32("regmap", phandle::kTest);
    w.string("compatible", n.compatible);
    w.end();
  }
}

// The power button on its GPIO pin: Linux's gpio-keys reports KEY_POWER on
// both edges (after its 5 ms software debounce) as an input device.
void write_gpio_keys(FdtWriter& w) {
  constexpr uint32_t kKeyPower = 116;      // linux,code: KEY_POWER
  constexpr uint32_t kGpioActiveHigh = 0;  // dt-bindings/gpio/gpio.h
  w.begin("gpio-keys");
  w.string("compatible", "gpio-keys");
  w.begin("key-power");
  w.string("label", "Power Button");
  w.u32("linux,code", kKeyPower);
  w.cells("gpios", {phandle::kGpio, kPowerButtonPin, kGpioActiveHigh});
  w.end();
  w.end();
}

void write_chosen(FdtWriter& w, const DeviceTreeSpec& spec) {
  w.begin("chosen");
  if (!spec.bootargs.empty()) w.string("bootargs", spec.bootargs);
  w.string("stdout-path", "/soc/serial@10000000");
  if (spec.initrd) {
    w.u64("linux,initrd-start", spec.initrd->start);
    w.u64("linux,initrd-end", spec.initrd->end);
  }
  if (!spec.rng_seed.empty()) w.bytes("rng-seed", spec.rng_seed);
  w.end();
}

}  // namespace

Result<std::vector<uint8_t>> build_device_tree(const DeviceTreeSpec& spec) {
  if (spec.harts == 0 || spec.harts > kMaxHarts) {
    return Error("device tree: hart count " + std::to_string(spec.harts) + " is out of range");
  }
  if (spec.ram_size == 0) return Error("device tree: no RAM");
  if (spec.initrd && spec.initrd->end < spec.initrd->start) {
    return Error("device tree: initrd range is inverted");
  }

  // Generous for 8 harts and a long command line; finish() trims it.
  FdtWriter w(64 * 1024 + spec.bootargs.size() + spec.rng_seed.size());
  w.begin("");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.string("compatible", "riscv-virtio");
  w.string("model", "riscv-virtio,vessel");

  write_chosen(w, spec);
  write_power_nodes(w);
  write_gpio_keys(w);

  const MemoryMapEntry& ram = map_entry(Region::kRam);
  w.begin(ram.name, spec.ram_base);
  w.string("device_type", "memory");
  w.reg(spec.ram_base, spec.ram_size);
  w.end();

  write_cpus(w, spec.harts);
  write_soc(w, spec.harts);
  w.end();
  return w.finish();
}

std::vector<uint8_t> random_rng_seed() {
  std::vector<uint8_t> seed(32);
  if (getrandom(seed.data(), seed.size(), GRND_NONBLOCK) != static_cast<ssize_t>(seed.size())) {
    seed.clear();
  }
  return seed;
}

bool replace_rng_seed(std::span<uint8_t> blob, std::span<const uint8_t> seed) {
  if (blob.size() < sizeof(fdt_header) || fdt_check_header(blob.data()) != 0 ||
      fdt_totalsize(blob.data()) > blob.size()) {
    return false;
  }
  int chosen = fdt_path_offset(blob.data(), "/chosen");
  if (chosen < 0) return false;
  int length = 0;
  if (fdt_getprop(blob.data(), chosen, "rng-seed", &length) == nullptr ||
      static_cast<size_t>(length) != seed.size()) {
    return false;
  }
  return fdt_setprop_inplace(blob.data(), chosen, "rng-seed", seed.data(), length) == 0;
}

}  // namespace vessel::machine

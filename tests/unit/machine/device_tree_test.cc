// The generated device tree, read back through libfdt: the structure and
// compatible strings QEMU's `virt` machine uses.
#include "machine/device_tree.h"

#include <gtest/gtest.h>
#include <libfdt.h>

#include <string>
#include <vector>

#include "machine/memory_map.h"

namespace vessel::machine {
namespace {

class DeviceTreeTest : public ::testing::Test {
 protected:
  void build(DeviceTreeSpec spec) {
    Result<std::vector<uint8_t>> blob = build_device_tree(spec);
    ASSERT_TRUE(blob.ok()) << blob.error().message();
    blob_ = std::move(blob).value();
    ASSERT_EQ(fdt_check_header(fdt()), 0);
    ASSERT_EQ(fdt_totalsize(fdt()), blob_.size());
  }

  const void* fdt() const { return blob_.data(); }

  int node(const char* path) const {
    int offset = fdt_path_offset(fdt(), path);
    EXPECT_GE(offset, 0) << path;
    return offset;
  }

  std::string str(const char* path, const char* name) const {
    int len = 0;
    const void* p = fdt_getprop(fdt(), node(path), name, &len);
    if (p == nullptr || len <= 0) return "<missing>";
    return std::string(static_cast<const char*>(p), static_cast<size_t>(len - 1));
  }

  std::vector<uint32_t> cells(const char* path, const char* name) const {
    int len = 0;
    const auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt(), node(path), name, &len));
    std::vector<uint32_t> out;
    for (int i = 0; p != nullptr && i < len / 4; ++i) out.push_back(fdt32_to_cpu(p[i]));
    return out;
  }

  uint64_t u64(const char* path, const char* name) const {
    int len = 0;
    const void* p = fdt_getprop(fdt(), node(path), name, &len);
    EXPECT_EQ(len, 8) << name;
    return p != nullptr && len == 8 ? fdt64_ld(static_cast<const fdt64_t*>(p)) : 0;
  }

  bool has(const char* path, const char* name) const {
    return fdt_getprop(fdt(), node(path), name, nullptr) != nullptr;
  }

  std::vector<uint8_t> blob_;
};

DeviceTreeSpec two_harts() {
  DeviceTreeSpec spec;
  spec.harts = 2;
  spec.ram_base = 0x8000'0000;
  spec.ram_size = uint64_t{512} << 20;
  spec.bootargs = "console=ttyS0 root=/dev/vda";
  return spec;
}

TEST_F(DeviceTreeTest, RootAndMemory) {
  build(two_harts());
  EXPECT_EQ(cells("/", "#address-cells"), std::vector<uint32_t>{2});
  EXPECT_EQ(cells("/", "#size-cells"), std::vector<uint32_t>{2});
  EXPECT_EQ(str("/", "compatible"), "riscv-virtio");
  EXPECT_EQ(str("/memory@80000000", "device_type"), "memory");
  EXPECT_EQ(cells("/memory@80000000", "reg"),
            (std::vector<uint32_t>{0, 0x80000000, 0, 0x20000000}));
}

TEST_F(DeviceTreeTest, CpusWithInterruptControllers) {
  build(two_harts());
  EXPECT_EQ(cells("/cpus", "timebase-frequency"), std::vector<uint32_t>{10'000'000});
  EXPECT_EQ(cells("/cpus", "#address-cells"), std::vector<uint32_t>{1});
  EXPECT_EQ(cells("/cpus", "#size-cells"), std::vector<uint32_t>{0});
  for (unsigned h = 0; h < 2; ++h) {
    std::string cpu = "/cpus/cpu@" + std::to_string(h);
    std::string intc = cpu + "/interrupt-controller";
    EXPECT_EQ(str(cpu.c_str(), "device_type"), "cpu");
    EXPECT_EQ(cells(cpu.c_str(), "reg"), std::vector<uint32_t>{h});
    EXPECT_EQ(str(cpu.c_str(), "status"), "okay");
    EXPECT_EQ(str(cpu.c_str(), "compatible"), "riscv");
    EXPECT_EQ(str(cpu.c_str(), "riscv,isa"), "rv64imafdc_zicsr_zifencei");
    EXPECT_EQ(str(cpu.c_str(), "mmu-type"), "riscv,sv48");
    EXPECT_EQ(str(intc.c_str(), "compatible"), "riscv,cpu-intc");
    EXPECT_EQ(cells(intc.c_str(), "#interrupt-cells"), std::vector<uint32_t>{1});
    EXPECT_TRUE(has(intc.c_str(), "interrupt-controller"));
    EXPECT_EQ(fdt_get_phandle(fdt(), node(intc.c_str())), phandle::cpu_intc(h));
    std::string core = "/cpus/cpu-map/cluster0/core" + std::to_string(h);
    EXPECT_EQ(cells(core.c_str(), "cpu"), std::vector<uint32_t>{phandle::cpu(h)});
    EXPECT_EQ(fdt_node_offset_by_phandle(fdt(), phandle::cpu(h)), node(cpu.c_str()));
  }
  EXPECT_LT(fdt_path_offset(fdt(), "/cpus/cpu@2"), 0);
}

TEST_F(DeviceTreeTest, InterruptControllers) {
  build(two_harts());
  const char* plic = "/soc/plic@c000000";
  EXPECT_EQ(str(plic, "compatible"), std::string("sifive,plic-1.0.0\0riscv,plic0", 29));
  EXPECT_EQ(cells(plic, "riscv,ndev"), std::vector<uint32_t>{95});
  EXPECT_EQ(cells(plic, "reg"), (std::vector<uint32_t>{0, 0xc000000, 0, 0x600000}));
  EXPECT_TRUE(has(plic, "interrupt-controller"));
  EXPECT_EQ(cells(plic, "#interrupt-cells"), std::vector<uint32_t>{1});
  // M-mode context (MEIP 11) then S-mode context (SEIP 9) of each hart.
  uint32_t i0 = phandle::cpu_intc(0), i1 = phandle::cpu_intc(1);
  EXPECT_EQ(cells(plic, "interrupts-extended"),
            (std::vector<uint32_t>{i0, 11, i0, 9, i1, 11, i1, 9}));
  EXPECT_EQ(fdt_get_phandle(fdt(), node(plic)), phandle::kPlic);

  const char* clint = "/soc/clint@2000000";
  EXPECT_EQ(str(clint, "compatible"), std::string("sifive,clint0\0riscv,clint0", 26));
  EXPECT_EQ(cells(clint, "reg"), (std::vector<uint32_t>{0, 0x2000000, 0, 0x10000}));
  EXPECT_EQ(cells(clint, "interrupts-extended"),
            (std::vector<uint32_t>{i0, 3, i0, 7, i1, 3, i1, 7}));
  EXPECT_EQ(str("/soc", "compatible"), "simple-bus");
  EXPECT_TRUE(has("/soc", "ranges"));
}

TEST_F(DeviceTreeTest, Peripherals) {
  build(two_harts());
  const char* uart = "/soc/serial@10000000";
  EXPECT_EQ(str(uart, "compatible"), "ns16550a");
  EXPECT_EQ(cells(uart, "clock-frequency"), std::vector<uint32_t>{0x384000});
  EXPECT_EQ(cells(uart, "interrupts"), std::vector<uint32_t>{10});
  EXPECT_EQ(cells(uart, "interrupt-parent"), std::vector<uint32_t>{phandle::kPlic});
  EXPECT_EQ(cells(uart, "reg"), (std::vector<uint32_t>{0, 0x10000000, 0, 0x100}));

  const char* rtc = "/soc/rtc@101000";
  EXPECT_EQ(str(rtc, "compatible"), "google,goldfish-rtc");
  EXPECT_EQ(cells(rtc, "interrupts"), std::vector<uint32_t>{11});

  const char* test = "/soc/test@100000";
  EXPECT_EQ(str(test, "compatible"), std::string("sifive,test1\0sifive,test0\0syscon", 32));
  EXPECT_EQ(fdt_get_phandle(fdt(), node(test)), phandle::kTest);
  EXPECT_EQ(str("/poweroff", "compatible"), "syscon-poweroff");
  EXPECT_EQ(cells("/poweroff", "value"), std::vector<uint32_t>{0x5555});
  EXPECT_EQ(cells("/poweroff", "offset"), std::vector<uint32_t>{0});
  EXPECT_EQ(cells("/poweroff", "regmap"), std::vector<uint32_t>{phandle::kTest});
  EXPECT_EQ(str("/reboot", "compatible"), "syscon-reboot");
  EXPECT_EQ(cells("/reboot", "value"), std::vector<uint32_t>{0x7777});
  EXPECT_EQ(cells("/reboot", "regmap"), std::vector<uint32_t>{phandle::kTest});
}

TEST_F(DeviceTreeTest, VirtioSlotsInAddressOrder) {
  build(two_harts());
  int previous = -1;
  for (unsigned slot = 0; slot < kVirtioSlots; ++slot) {
    char path[64];
    snprintf(path, sizeof path, "/soc/virtio_mmio@%llx",
             static_cast<unsigned long long>(0x10001000 + 0x1000 * slot));
    EXPECT_EQ(str(path, "compatible"), "virtio,mmio");
    EXPECT_EQ(cells(path, "interrupts"), std::vector<uint32_t>{1 + slot});
    EXPECT_EQ(cells(path, "reg"),
              (std::vector<uint32_t>{0, 0x10001000 + 0x1000 * slot, 0, 0x1000}));
    EXPECT_GT(node(path), previous) << "slot " << slot << " out of order";
    previous = node(path);
  }
}

TEST_F(DeviceTreeTest, GpioControllerAndPowerButton) {
  build(two_harts());
  // The binding of Linux's gpio-sifive (sifive,gpio.yaml): one PLIC source
  // per pin, each pin a GPIO and an interrupt.
  const char* gpio = "/soc/gpio@10060000";
  EXPECT_EQ(str(gpio, "compatible"), "sifive,gpio0");
  EXPECT_EQ(cells(gpio, "reg"), (std::vector<uint32_t>{0, 0x10060000, 0, 0x1000}));
  EXPECT_EQ(cells(gpio, "interrupt-parent"), std::vector<uint32_t>{phandle::kPlic});
  EXPECT_EQ(cells(gpio, "interrupts"), (std::vector<uint32_t>{12, 13, 14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(cells(gpio, "ngpios"), std::vector<uint32_t>{8});
  EXPECT_TRUE(has(gpio, "gpio-controller"));
  EXPECT_EQ(cells(gpio, "#gpio-cells"), std::vector<uint32_t>{2});
  EXPECT_TRUE(has(gpio, "interrupt-controller"));
  EXPECT_EQ(cells(gpio, "#interrupt-cells"), std::vector<uint32_t>{2});
  EXPECT_EQ(fdt_get_phandle(fdt(), node(gpio)), phandle::kGpio);
  // Distinct from every hart's phandles, even with the most harts.
  EXPECT_GT(phandle::kGpio, phandle::cpu_intc(kMaxHarts - 1));
  EXPECT_GT(phandle::kGpio, phandle::cpu(kMaxHarts - 1));

  // gpio-keys: KEY_POWER on pin 0, active high.
  EXPECT_EQ(str("/gpio-keys", "compatible"), "gpio-keys");
  const char* key = "/gpio-keys/key-power";
  EXPECT_EQ(cells(key, "linux,code"), std::vector<uint32_t>{116});
  EXPECT_EQ(cells(key, "gpios"), (std::vector<uint32_t>{phandle::kGpio, 0, 0}));
  EXPECT_EQ(str(key, "label"), "Power Button");
}

TEST_F(DeviceTreeTest, ChosenWithoutInitrd) {
  build(two_harts());
  EXPECT_EQ(str("/chosen", "bootargs"), "console=ttyS0 root=/dev/vda");
  EXPECT_EQ(str("/chosen", "stdout-path"), "/soc/serial@10000000");
  EXPECT_FALSE(has("/chosen", "linux,initrd-start"));
  EXPECT_FALSE(has("/chosen", "rng-seed"));
}

TEST_F(DeviceTreeTest, ChosenWithInitrdAndSeed) {
  DeviceTreeSpec spec = two_harts();
  spec.bootargs.clear();
  spec.initrd = DeviceTreeSpec::Range{0x9000'0000, 0x9012'3456};
  spec.rng_seed.assign(32, 0xab);
  build(spec);
  EXPECT_FALSE(has("/chosen", "bootargs"));
  EXPECT_EQ(u64("/chosen", "linux,initrd-start"), 0x9000'0000u);
  EXPECT_EQ(u64("/chosen", "linux,initrd-end"), 0x9012'3456u);
  int len = 0;
  ASSERT_NE(fdt_getprop(fdt(), node("/chosen"), "rng-seed", &len), nullptr);
  EXPECT_EQ(len, 32);
}

TEST_F(DeviceTreeTest, EightHarts) {
  DeviceTreeSpec spec = two_harts();
  spec.harts = 8;
  build(spec);
  EXPECT_GE(fdt_path_offset(fdt(), "/cpus/cpu@7"), 0);
  EXPECT_EQ(cells("/soc/plic@c000000", "interrupts-extended").size(), 8u * 4);
  EXPECT_EQ(cells("/soc/clint@2000000", "interrupts-extended").size(), 8u * 4);
}

TEST(DeviceTreeSpecTest, RejectsBadHartCounts) {
  DeviceTreeSpec spec = two_harts();
  spec.harts = 0;
  EXPECT_FALSE(build_device_tree(spec).ok());
  spec.harts = kMaxHarts + 1;
  EXPECT_FALSE(build_device_tree(spec).ok());
}

}  // namespace
}  // namespace vessel::machine

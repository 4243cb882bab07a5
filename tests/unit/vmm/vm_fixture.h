// A scratch directory holding a bare-metal firmware (a list of RV64
// instructions) and a small disk, and VMs made from them without a terminal
// or signal handling: the base of the VM-level tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "vmm/vm.h"

namespace vessel::vmm {

class VmFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "vessel-vm-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ + "/disk.img", std::ios::binary) << std::string(64 * 1024, '\0');
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // The firmware every VM made afterwards runs; it starts at the base of RAM
  // with a0 = hart id.
  void set_firmware(const std::vector<uint32_t>& code) const {
    std::ofstream(dir_ + "/firmware.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(code.data()),
               static_cast<std::streamsize>(code.size() * 4));
  }

  VmConfig config(unsigned harts = 2) const {
    VmConfig c;
    c.board.memory_size = uint64_t{4} << 20;
    c.board.harts = harts;
    c.board.firmware = dir_ + "/firmware.bin";
    c.board.disks.push_back({dir_ + "/disk.img", false});
    c.serial.kind = SerialTarget::Kind::kFile;
    c.serial.path = dir_ + "/serial.txt";
    c.attach_stdin = false;
    c.handle_signals = false;
    return c;
  }

  std::unique_ptr<Vm> make(VmConfig c) const {
    Result<std::unique_ptr<Vm>> vm = Vm::create(std::move(c));
    EXPECT_TRUE(vm.ok()) << vm.error().message();
    return vm.ok() ? std::move(vm).value() : nullptr;
  }
  std::unique_ptr<Vm> make(unsigned harts = 2) const { return make(config(harts)); }

  std::string dir_;
};

}  // namespace vessel::vmm

// Firmware and kernel loading: what lands where, and every malformed input
// rejected with an error that names the file.
#include "machine/loader.h"

#include <gtest/gtest.h>

#include "test_files.h"

namespace vessel::machine {
namespace {

using testing::make_elf;
using testing::make_linux_image;
using testing::Segment;
using testing::TempDir;

constexpr uint64_t kRamBase = 0x8000'0000;
constexpr uint64_t kRamSize = uint64_t{16} << 20;

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(bus_.map_ram(kRamBase, kRamSize).ok());
  }
  uint8_t at(uint64_t paddr) { return *bus_.ram_ptr(paddr, 1); }

  // The load fails and the message names the file and contains `what`.
  template <typename R>
  void expect_error(const R& result, const std::string& path, const std::string& what) {
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error().message().find(path), std::string::npos) << result.error().message();
    EXPECT_NE(result.error().message().find(what), std::string::npos) << result.error().message();
  }

  TempDir dir_;
  memory::AddressSpace bus_;
};

TEST_F(LoaderTest, ElfSegmentsAtPhysicalAddressesWithBssZeroed) {
  std::memset(bus_.ram_ptr(kRamBase, kRamSize), 0xee, kRamSize);
  std::string path =
      dir_.file("fw.elf", make_elf(kRamBase + 4, {
                                                     {kRamBase, {1, 2, 3, 4, 5, 6, 7, 8}, 16},
                                                     {kRamBase + 0x10000, {9, 9}, 2},
                                                 }));
  Result<LoadedImage> image = load_firmware(bus_, path);
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_EQ(image->entry, kRamBase + 4);
  EXPECT_EQ(image->start, kRamBase);
  EXPECT_EQ(image->end, kRamBase + 0x10002);
  EXPECT_EQ(at(kRamBase), 1);
  EXPECT_EQ(at(kRamBase + 7), 8);
  EXPECT_EQ(at(kRamBase + 8), 0);   // .bss
  EXPECT_EQ(at(kRamBase + 15), 0);  // .bss
  EXPECT_EQ(at(kRamBase + 16), 0xee);
  EXPECT_EQ(at(kRamBase + 0x10001), 9);
}

TEST_F(LoaderTest, RawFirmwareAtRamBase) {
  std::string path = dir_.file("fw.bin", std::vector<uint8_t>{0x73, 0x00, 0x50, 0x10});
  Result<LoadedImage> image = load_firmware(bus_, path);
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_EQ(image->entry, kRamBase);
  EXPECT_EQ(image->end, kRamBase + 4);
  EXPECT_EQ(at(kRamBase), 0x73);
  EXPECT_EQ(at(kRamBase + 3), 0x10);
}

TEST_F(LoaderTest, MissingEmptyAndDirectory) {
  expect_error(load_firmware(bus_, dir_.path() + "/nope"), "/nope", "No such file");
  expect_error(load_firmware(bus_, dir_.file("empty", std::string())), "empty", "empty");
  expect_error(load_firmware(bus_, dir_.path()), dir_.path(), "directory");
  expect_error(load_kernel(bus_, dir_.path() + "/nope", kRamBase), "/nope", "No such file");
}

TEST_F(LoaderTest, RejectsMalformedElf) {
  std::vector<uint8_t> good = make_elf(kRamBase, {{kRamBase, {1, 2, 3, 4}, 4}});

  std::vector<uint8_t> truncated(good.begin(), good.begin() + 20);
  expect_error(load_firmware(bus_, dir_.file("t.elf", truncated)), "t.elf", "truncated");

  std::vector<uint8_t> elf32 = good;
  elf32[EI_CLASS] = ELFCLASS32;
  expect_error(load_firmware(bus_, dir_.file("32.elf", elf32)), "32.elf", "64-bit");

  std::vector<uint8_t> big_endian = good;
  big_endian[EI_DATA] = ELFDATA2MSB;
  expect_error(load_firmware(bus_, dir_.file("be.elf", big_endian)), "be.elf", "little-endian");

  std::vector<uint8_t> x86 = good;
  x86[18] = 62;  // e_machine = EM_X86_64
  expect_error(load_firmware(bus_, dir_.file("x86.elf", x86)), "x86.elf", "not RISC-V");

  std::vector<uint8_t> no_body(good.begin(), good.begin() + sizeof(Elf64_Ehdr) + 10);
  expect_error(load_firmware(bus_, dir_.file("nophdr.elf", no_body)), "nophdr.elf",
               "beyond the end");

  std::vector<uint8_t> cut_segment(good.begin(), good.end() - 2);
  expect_error(load_firmware(bus_, dir_.file("cut.elf", cut_segment)), "cut.elf", "truncated");

  std::string garbage = std::string(
                            "\x7f"
                            "ELF") +
                        "this is not an executable at all, just text";
  expect_error(load_firmware(bus_, dir_.file("garbage.elf", garbage)), "garbage.elf", "ELF");
}

TEST_F(LoaderTest, RejectsSegmentsOutsideRam) {
  expect_error(load_firmware(bus_, dir_.file("low.elf", make_elf(0x1000, {{0x1000, {1}, 1}}))),
               "low.elf", "outside guest RAM");
  expect_error(
      load_firmware(
          bus_,
          dir_.file("high.elf", make_elf(kRamBase, {{kRamBase + kRamSize - 2, {1, 2, 3, 4}, 4}}))),
      "high.elf", "does not fit");
  expect_error(
      load_firmware(bus_, dir_.file("wrap.elf", make_elf(kRamBase, {{~uint64_t{0} - 1, {1}, 16}}))),
      "wrap.elf", "wraps");
  expect_error(load_firmware(bus_, dir_.file("entry.elf", make_elf(0x1234, {{kRamBase, {1}, 1}}))),
               "entry.elf", "entry point");
}

TEST_F(LoaderTest, BadElfLeavesRamUntouched) {
  // The first segment is fine, the second outside RAM: nothing is written.
  std::string path =
      dir_.file("half.elf", make_elf(kRamBase, {{kRamBase, {0xaa}, 1}, {0x1000, {1}, 1}}));
  EXPECT_FALSE(load_firmware(bus_, path).ok());
  EXPECT_EQ(at(kRamBase), 0);
}

TEST_F(LoaderTest, RawFirmwareTooBigForRam) {
  memory::AddressSpace small;
  ASSERT_TRUE(small.map_ram(kRamBase, 4096).ok());
  expect_error(load_firmware(small, dir_.file("big.bin", std::vector<uint8_t>(8192, 1))), "big.bin",
               "does not fit");
}

TEST_F(LoaderTest, LinuxImageAtItsAddressWithBssFootprint) {
  std::string path = dir_.file("Image", make_linux_image(4096, 0x20000));
  Result<LoadedImage> image = load_kernel(bus_, path, kRamBase + 0x200000);
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_EQ(image->entry, kRamBase + 0x200000);
  EXPECT_EQ(image->start, kRamBase + 0x200000);
  EXPECT_EQ(image->end, kRamBase + 0x200000 + 0x20000);
  EXPECT_EQ(at(kRamBase + 0x200000), 0x6f);
}

TEST_F(LoaderTest, KernelElfUsesItsEntry) {
  std::string path =
      dir_.file("vmlinux", make_elf(kRamBase + 0x400000, {{kRamBase + 0x400000, {1, 2}, 2}}));
  Result<LoadedImage> image = load_kernel(bus_, path, kRamBase + 0x200000);
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_EQ(image->entry, kRamBase + 0x400000);
}

// As QEMU's -kernel: what is neither ELF nor a U-Boot image runs raw at the
// kernel address (U-Boot's u-boot.bin, for one), taking its own size.
TEST_F(LoaderTest, AnyOtherKernelLoadsRawAtTheKernelAddress) {
  for (const std::string& text : {std::string(200, 'x'), std::string("ab")}) {
    std::string path = dir_.file("raw", text);
    Result<LoadedImage> image = load_kernel(bus_, path, kRamBase + 0x200000);
    ASSERT_TRUE(image.ok()) << image.error().message();
    EXPECT_EQ(image->entry, kRamBase + 0x200000);
    EXPECT_EQ(image->start, kRamBase + 0x200000);
    EXPECT_EQ(image->end, kRamBase + 0x200000 + text.size());
    EXPECT_EQ(at(kRamBase + 0x200000), text[0]);
  }
}

TEST_F(LoaderTest, RejectsEmptyAndCompressedKernels) {
  expect_error(load_kernel(bus_, dir_.file("empty", std::string()), kRamBase + 0x200000), "empty",
               "file is empty");
  std::vector<uint8_t> gz = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0};
  gz.resize(100);
  expect_error(load_kernel(bus_, dir_.file("Image.gz", gz), kRamBase + 0x200000), "Image.gz",
               "compressed");
}

// A legacy U-Boot image: 64-byte big-endian header (include/image.h), data.
std::vector<uint8_t> make_uimage(uint32_t load, uint32_t entry, uint8_t arch, uint8_t type,
                                 uint8_t compression, const std::vector<uint8_t>& data) {
  constexpr size_t kHeader = 64;
  std::vector<uint8_t> file(kHeader + data.size());
  auto put32 = [&file](size_t offset, uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) file[offset + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  put32(0, 0x27051956);
  put32(12, static_cast<uint32_t>(data.size()));
  put32(16, load);
  put32(20, entry);
  file[28] = 5;  // IH_OS_LINUX
  file[29] = arch;
  file[30] = type;
  file[31] = compression;
  std::copy(data.begin(), data.end(), file.begin() + kHeader);
  return file;
}

TEST_F(LoaderTest, UImageAtItsLoadAddress) {
  constexpr uint32_t kLoad = 0x8040'0000;
  std::string path = dir_.file("uImage", make_uimage(kLoad, kLoad + 4, 26, 2, 0, {9, 8, 7, 6, 5}));
  Result<LoadedImage> image = load_kernel(bus_, path, kRamBase + 0x200000);
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_EQ(image->entry, kLoad + 4);
  EXPECT_EQ(image->start, kLoad);
  EXPECT_EQ(image->end, kLoad + 5);
  EXPECT_EQ(at(kLoad), 9);
  EXPECT_EQ(at(kLoad + 4), 5);
}

TEST_F(LoaderTest, RejectsUImagesItCannotRun) {
  constexpr uint32_t kLoad = 0x8040'0000;
  const std::vector<uint8_t> data(16, 1);
  auto load = [&](const std::vector<uint8_t>& file) {
    return load_kernel(bus_, dir_.file("uImage", file), kRamBase + 0x200000);
  };
  expect_error(load(make_uimage(kLoad, kLoad, 2, 2, 0, data)), "uImage", "not RISC-V");
  expect_error(load(make_uimage(kLoad, kLoad, 26, 3, 0, data)), "uImage", "not a kernel");
  expect_error(load(make_uimage(kLoad, kLoad, 26, 2, 1, data)), "uImage", "compressed");
  expect_error(load(make_uimage(kLoad, kLoad + 16, 26, 2, 0, data)), "uImage", "entry point");
  expect_error(load(make_uimage(0x1000, 0x1000, 26, 2, 0, data)), "uImage", "outside guest RAM");
  std::vector<uint8_t> truncated = make_uimage(kLoad, kLoad, 26, 2, 0, data);
  truncated.resize(70);
  expect_error(load(truncated), "uImage", "truncated");
}

TEST_F(LoaderTest, RejectsKernelLargerThanRam) {
  std::string path = dir_.file("Image", make_linux_image(4096, uint64_t{64} << 20));
  expect_error(load_kernel(bus_, path, kRamBase + 0x200000), "Image", "does not fit");
}

}  // namespace
}  // namespace vessel::machine

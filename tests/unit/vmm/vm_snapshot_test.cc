// VM snapshots in qcow2 disks through the human monitor (savevm, loadvm,
// delvm, info snapshots) on a VM that is not running: RAM and disk come back
// on loadvm, the snapshot entries carry the VM state, and every bad request
// gets QEMU's message with nothing changed. Then external snapshots
// (blockdev-snapshot-sync's overlay): later writes reach the overlay only.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "block/qcow2.h"
#include "vm_fixture.h"
#include "vmm/disk_overlay.h"
#include "vmm/human_monitor.h"

namespace vessel::vmm {
namespace {

constexpr uint64_t kMarker = 0x10000;  // a RAM offset the firmware leaves alone

class VmSnapshotTest : public VmFixture {
 protected:
  void SetUp() override {
    VmFixture::SetUp();
    set_firmware({0x0000006f});  // j .
    block::Qcow2CreateOptions create;
    create.size = 1 << 20;
    create.cluster_size = 4096;
    auto created = block::Qcow2Image::create(dir_ + "/disk.qcow2", create);
    ASSERT_TRUE(created.ok()) << created.error().message();
  }

  // A qcow2 disk first, then the fixture's raw disk, read-only.
  VmConfig qcow2_config() const {
    VmConfig c = config(1);
    c.board.disks.front().read_only = true;
    c.board.disks.insert(c.board.disks.begin(),
                         {dir_ + "/disk.qcow2", false, block::ImageFormat::kQcow2});
    return c;
  }

  static void put(Vm& vm, const char* text) {
    std::memcpy(vm.board().bus().ram_host() + kMarker, text, std::strlen(text) + 1);
    auto r = vm.board().disk_image(0).write(
        0, std::span(reinterpret_cast<const uint8_t*>(text), std::strlen(text) + 1));
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  static std::string ram_text(Vm& vm) {
    return reinterpret_cast<const char*>(vm.board().bus().ram_host() + kMarker);
  }
  static std::string disk_text(Vm& vm) {
    std::vector<uint8_t> data(32);
    EXPECT_TRUE(vm.board().disk_image(0).read(0, data).ok());
    return reinterpret_cast<const char*>(data.data());
  }
};

TEST_F(VmSnapshotTest, SaveChangeLoadDelete) {
  auto vm = make(qcow2_config());
  ASSERT_TRUE(vm);
  std::vector<std::string> events;
  HumanMonitor monitor(*vm, [&](const char* e) { events.push_back(e); });

  put(*vm, "one");
  EXPECT_EQ(monitor.execute("savevm s1"), "");
  EXPECT_EQ(events, (std::vector<std::string>{"STOP", "RESUME"}));
  EXPECT_FALSE(vm->paused());
  auto& image = dynamic_cast<block::Qcow2Image&>(vm->board().disk_image(0));
  ASSERT_EQ(image.snapshots().size(), 1u);
  EXPECT_EQ(image.snapshots()[0].name, "s1");
  EXPECT_GT(image.snapshots()[0].vm_state_size, 4096u);
  EXPECT_EQ(image.snapshots()[0].icount, -1);

  put(*vm, "two");
  EXPECT_EQ(monitor.execute("loadvm s1"), "");
  EXPECT_EQ(ram_text(*vm), "one");
  EXPECT_EQ(disk_text(*vm), "one");
  EXPECT_FALSE(vm->paused());

  std::string table = monitor.execute("info snapshots");
  EXPECT_EQ(table.rfind("List of snapshots present on all disks:\r\nID        TAG", 0), 0u)
      << table;
  EXPECT_NE(table.find("\r\n--        s1 "), std::string::npos) << table;

  // The same name again replaces the snapshot; without a name QEMU's is made up.
  put(*vm, "three");
  EXPECT_EQ(monitor.execute("savevm s1"), "");
  EXPECT_EQ(monitor.execute("savevm"), "");
  ASSERT_EQ(image.snapshots().size(), 2u);
  EXPECT_EQ(image.snapshots()[0].name, "s1");
  EXPECT_EQ(image.snapshots()[1].name.rfind("vm-20", 0), 0u);
  put(*vm, "four");
  EXPECT_EQ(monitor.execute("loadvm \"s1\""), "");
  EXPECT_EQ(ram_text(*vm), "three");

  EXPECT_EQ(monitor.execute("delvm s1"), "");
  EXPECT_EQ(monitor.execute("delvm " + image.snapshots()[0].name), "");
  EXPECT_EQ(monitor.execute("info snapshots"), "There is no snapshot available.\r\n");
  ASSERT_TRUE(image.flush().ok());
}

TEST_F(VmSnapshotTest, PausedVmStaysPaused) {
  auto vm = make(qcow2_config());
  ASSERT_TRUE(vm);
  std::vector<std::string> events;
  HumanMonitor monitor(*vm, [&](const char* e) { events.push_back(e); });
  vm->pause();
  EXPECT_EQ(monitor.execute("savevm p"), "");
  EXPECT_EQ(monitor.execute("loadvm p"), "");
  EXPECT_TRUE(vm->paused());
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(monitor.execute("info status"), "VM status: paused\r\n");
  vm->resume();
}

TEST_F(VmSnapshotTest, BadRequestsChangeNothing) {
  auto vm = make(qcow2_config());
  ASSERT_TRUE(vm);
  HumanMonitor monitor(*vm, {});
  put(*vm, "one");
  EXPECT_EQ(monitor.execute("savevm good"), "");
  put(*vm, "two");
  const std::pair<const char*, const char*> cases[] = {
      {"loadvm nosuch", "Error: Snapshot 'nosuch' does not exist in one or more devices\r\n"},
      {"loadvm", "loadvm: string expected\r\nTry \"help loadvm\" for more information\r\n"},
      {"loadvm a b",
       "loadvm: extraneous characters at the end of line\r\nTry \"help loadvm\" for more "
       "information\r\n"},
      {"loadvm \"a\\x\"",
       "unsupported escape code: '\\x'\r\nloadvm: string expected\r\nTry \"help loadvm\" for "
       "more information\r\n"},
      {"info snapshots now",
       "info snapshots: extraneous characters at the end of line\r\nTry \"help info snapshots\" "
       "for more information\r\n"},
      {"stop", "unknown command: 'stop'\r\n"},
      {"info registers", "unknown command: 'info registers'\r\n"},
      {"delvm nosuch", ""},
      {"   ", ""},
  };
  for (const auto& [line, want] : cases) EXPECT_EQ(monitor.execute(line), want) << line;
  EXPECT_NE(monitor.execute("info").find("info snapshots  -- show the currently saved VM"),
            std::string::npos);
  EXPECT_EQ(monitor.execute("help loadvm"), "loadvm tag -- restore a VM snapshot from its tag\r\n");

  // A disk-only snapshot (qemu-img snapshot -c) has no VM state to load.
  auto& image = dynamic_cast<block::Qcow2Image&>(vm->board().disk_image(0));
  ASSERT_TRUE(image.create_snapshot("disk-only").ok());
  EXPECT_EQ(monitor.execute("loadvm disk-only"),
            "Error: This is a disk-only snapshot. Revert to it offline using qemu-img\r\n");
  // A damaged VM state is found before any disk is reverted.
  block::Qcow2NewSnapshot damaged;
  damaged.name = "damaged";
  damaged.vm_state_size = 4096;
  ASSERT_TRUE(image.write_vm_state(0, std::vector<uint8_t>(4096, 0x42)).ok());
  ASSERT_TRUE(image.create_snapshot(damaged).ok());
  ASSERT_TRUE(image.discard_vm_state().ok());
  std::string out = monitor.execute("loadvm damaged");
  EXPECT_NE(out.find("not a Vessel VM state file"), std::string::npos) << out;
  EXPECT_EQ(ram_text(*vm), "two");
  EXPECT_EQ(disk_text(*vm), "two");
  EXPECT_FALSE(vm->paused());
  EXPECT_EQ(monitor.execute("loadvm good"), "");
  EXPECT_EQ(ram_text(*vm), "one");
}

TEST_F(VmSnapshotTest, DisksThatCannotTakeVmSnapshots) {
  {
    auto vm = make(config(1));  // one writable raw disk
    ASSERT_TRUE(vm);
    HumanMonitor monitor(*vm, {});
    const char* refused = "Error: Device 'virtio0' is writable but does not support snapshots\r\n";
    EXPECT_EQ(monitor.execute("savevm x"), refused);
    EXPECT_EQ(monitor.execute("loadvm x"), refused);
    EXPECT_EQ(monitor.execute("info snapshots"),
              "no block device can store vmstate for snapshot\r\n");
    EXPECT_FALSE(vm->paused());
  }
  VmConfig c = config(1);
  c.board.disks.clear();
  auto vm = make(c);
  ASSERT_TRUE(vm);
  HumanMonitor monitor(*vm, {});
  EXPECT_EQ(monitor.execute("savevm x"),
            "Error: no block device can store vmstate for snapshot\r\n");
}

TEST_F(VmSnapshotTest, OverlayTakesLaterWrites) {
  auto vm = make(qcow2_config());
  ASSERT_TRUE(vm);
  put(*vm, "base");
  const std::string overlay = dir_ + "/overlay.qcow2";
  // Never over a file the VM uses.
  auto refused =
      snapshot_to_overlay(vm->board(), 0, dir_ + "/disk.img", OverlayMode::kAbsolutePaths);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("in use"), std::string::npos);
  auto done = snapshot_to_overlay(vm->board(), 0, overlay, OverlayMode::kAbsolutePaths);
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(vm->board().config().disks[0].path, overlay);
  auto& top = dynamic_cast<block::Qcow2Image&>(vm->board().disk_image(0));
  EXPECT_EQ(top.path(), overlay);
  ASSERT_NE(top.backing(), nullptr);
  EXPECT_EQ(disk_text(*vm), "base");
  put(*vm, "top");
  ASSERT_TRUE(top.flush().ok());
  {
    auto base = block::Qcow2Image::open(dir_ + "/disk.qcow2", {});
    ASSERT_TRUE(base.ok());
    std::vector<uint8_t> data(5);
    ASSERT_TRUE((*base)->read(0, data).ok());
    EXPECT_EQ(std::string(data.begin(), data.end() - 1), "base");
  }
  // mode=existing: the overlay must name the disk's image as backing file.
  block::Qcow2CreateOptions other;
  other.size = 1 << 20;
  ASSERT_TRUE(block::Qcow2Image::create(dir_ + "/other.qcow2", other).ok());
  auto wrong = snapshot_to_overlay(vm->board(), 0, dir_ + "/other.qcow2", OverlayMode::kExisting);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("no backing file"), std::string::npos);
  EXPECT_EQ(vm->board().config().disks[0].path, overlay);
}

}  // namespace
}  // namespace vessel::vmm

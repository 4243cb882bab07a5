// libFuzzer target for virtio-net behind the virtio-mmio transport: the
// input is guest RAM (descriptor tables, rings, buffers) and a sequence of
// driver and backend actions (virtio_net_input.h). Nothing the guest writes
// may crash, hang or read or write outside guest RAM, and the device must
// keep its promises to the backend:
//   - a frame is refused (back-pressure) only while the driver runs the
//     device, and a refused backend is resumed by the next receive-queue
//     notification, a reset or a restore;
//   - frames handed to the backend have a plausible size.
#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "base/log.h"
#include "base/state.h"
#include "devices/virtio/device.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio_mmio.h"
#include "memory/address_space.h"
#include "net/net_backend.h"
#include "virtio_net_input.h"

namespace {

using namespace vessel::fuzz::virtio_net;
using vessel::StateReader;
using vessel::StateWriter;
using vessel::devices::virtio::VirtioMmio;
using vessel::devices::virtio::VirtioNet;
namespace status = vessel::devices::virtio::status;
namespace feature = vessel::devices::virtio::feature;

// virtio 1.2 §4.2.2 registers.
constexpr uint64_t kDeviceFeatures = 0x010, kDeviceFeaturesSel = 0x014, kDriverFeatures = 0x020,
                   kDriverFeaturesSel = 0x024, kQueueSel = 0x030, kQueueNum = 0x038,
                   kQueueReady = 0x044, kQueueNotify = 0x050, kInterruptAck = 0x064,
                   kStatus = 0x070, kQueueDescLow = 0x080, kQueueDescHigh = 0x084,
                   kQueueDriverLow = 0x090, kQueueDriverHigh = 0x094, kQueueDeviceLow = 0x0a0,
                   kQueueDeviceHigh = 0x0a4, kConfig = 0x100;

constexpr size_t kVnetHeader = vessel::net::kVnetHeaderSize;
constexpr size_t kMaxFrame = 65535 + 14 + 4;

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "virtio_net_fuzz: %s\n", what);
  abort();
}

class FuzzBackend : public vessel::net::NetBackend {
 public:
  explicit FuzzBackend(bool vnet) : vnet_(vnet) {}
  void start(vessel::net::FrameSink& sink) override { sink_ = &sink; }
  void stop() override {}
  void send(std::span<const iovec> pieces) override {
    size_t len = 0;
    uint8_t sum = 0;
    for (const iovec& p : pieces) {
      // Every byte is read, so that ASan checks the device's pieces.
      const auto* bytes = static_cast<const uint8_t*>(p.iov_base);
      for (size_t i = 0; i < p.iov_len; ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
      len += p.iov_len;
    }
    checksum_ ^= sum;
    const size_t header = vnet_ ? kVnetHeader : 0;
    if (len < header + 14 || len > header + kMaxFrame) fail("implausible frame size sent");
    if (!vnet_ && len > 1500 + 14 + 4) fail("frame beyond the MTU sent without offloads");
  }
  void resume_receive() override { waiting = false; }
  bool has_vnet_header() const override { return vnet_; }

  vessel::net::FrameSink* sink_ = nullptr;
  bool waiting = false;  // refused a frame, not resumed since

 private:
  bool vnet_;
  uint8_t checksum_ = 0;
};

class Harness {
 public:
  Harness(vessel::memory::AddressSpace& ram, const Config& config) : ram_(ram), config_(config) {
    auto backend = std::make_unique<FuzzBackend>(config.flags & kVnetHeader);
    backend_ = backend.get();
    dev_ = std::make_unique<VirtioMmio>(
        ram_, [](bool) {},
        std::make_unique<VirtioNet>(std::move(backend), vessel::net::default_mac(0)));
    rx_size_ = static_cast<uint16_t>(1u << (config.rx_size_log2 % 9));
    tx_size_ = static_cast<uint16_t>(1u << (config.tx_size_log2 % 9));
  }

  void run(const Action& action, std::span<const uint8_t> ram_image) {
    switch (action.op % kNumOps) {
      case kNotifyTx:
        wr(kQueueNotify, VirtioNet::kTxQueue);
        break;
      case kNotifyRx: {
        bool running = device_running() && queue_ready(VirtioNet::kRxQueue);
        wr(kQueueNotify, VirtioNet::kRxQueue);
        if (running && backend_->waiting) fail("receive notification left the backend waiting");
        break;
      }
      case kDeliver:
        deliver(action, ram_image);
        break;
      case kReset:
        wr(kStatus, 0);
        if (backend_->waiting) fail("reset left the backend waiting");
        if (!(action.a & 1)) bring_up();
        break;
      case kMakeAvailable:
        make_available(action.a & 1 ? VirtioNet::kTxQueue : VirtioNet::kRxQueue, action.b);
        break;
      case kPoke:
        if (action.b + 2u <= kRamSize) {
          (void)ram_.write_bytes(action.b, &action.c, 2);
        }
        break;
      case kSaveLoad: {
        StateWriter out;
        dev_->save(out);
        StateReader in(out.data());
        if (!dev_->load(in).ok()) fail("the device refused its own state");
        if (backend_->waiting) fail("restore left the backend waiting");
        break;
      }
      case kRegisterWrite:
        wr((action.a % 64) * 4u, action.b | uint32_t{action.c} << 16);
        break;
    }
    // Also read the configuration space and acknowledge interrupts.
    uint64_t value;
    (void)dev_->mmio_read(kConfig + (action.c % 16), 1u << (action.a % 3), value);
    wr(kInterruptAck, 3);
  }

  // §3.1.1: negotiation, both queues at their fixed places, DRIVER_OK.
  void bring_up() {
    wr(kStatus, 0);
    wr(kStatus, status::kAcknowledge | status::kDriver);
    uint64_t offered = features_offered();
    uint64_t wanted = (uint64_t{config_.features_high} << 32 | config_.features_low) & offered;
    wanted |= feature::kVersion1;
    wr(kDriverFeaturesSel, 0);
    wr(kDriverFeatures, static_cast<uint32_t>(wanted));
    wr(kDriverFeaturesSel, 1);
    wr(kDriverFeatures, static_cast<uint32_t>(wanted >> 32));
    wr(kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    setup_queue(VirtioNet::kRxQueue, rx_size_, kRxDesc, kRxAvail, kRxUsed);
    setup_queue(VirtioNet::kTxQueue, tx_size_, kTxDesc, kTxAvail, kTxUsed);
    wr(kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    rx_avail_ = read16(kRxAvail + 2);
    tx_avail_ = read16(kTxAvail + 2);
  }

 private:
  uint32_t rd(uint64_t offset) {
    uint64_t v = 0;
    (void)dev_->mmio_read(offset, 4, v);
    return static_cast<uint32_t>(v);
  }
  void wr(uint64_t offset, uint32_t value) { (void)dev_->mmio_write(offset, 4, value); }
  uint16_t read16(uint64_t addr) {
    uint16_t v = 0;
    (void)ram_.read_bytes(addr, &v, 2);
    return v;
  }

  uint64_t features_offered() {
    wr(kDeviceFeaturesSel, 1);
    uint64_t high = rd(kDeviceFeatures);
    wr(kDeviceFeaturesSel, 0);
    return high << 32 | rd(kDeviceFeatures);
  }

  void setup_queue(uint32_t index, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used) {
    wr(kQueueSel, index);
    wr(kQueueNum, size);
    wr(kQueueDescLow, static_cast<uint32_t>(desc));
    wr(kQueueDescHigh, 0);
    wr(kQueueDriverLow, static_cast<uint32_t>(avail));
    wr(kQueueDriverHigh, 0);
    wr(kQueueDeviceLow, static_cast<uint32_t>(used));
    wr(kQueueDeviceHigh, 0);
    wr(kQueueReady, 1);
  }

  bool device_running() {
    uint32_t s = dev_->device_status();
    return (s & status::kDriverOk) && !(s & status::kNeedsReset);
  }
  bool queue_ready(uint32_t index) {
    wr(kQueueSel, index);
    return rd(kQueueReady) == 1;
  }

  void make_available(unsigned queue, uint16_t head) {
    const bool rx = queue == VirtioNet::kRxQueue;
    const uint64_t avail = rx ? kRxAvail : kTxAvail;
    const uint16_t size = rx ? rx_size_ : tx_size_;
    uint16_t& idx = rx ? rx_avail_ : tx_avail_;
    const uint16_t entry = static_cast<uint16_t>(head % size);
    (void)ram_.write_bytes(avail + 4 + 2 * uint64_t{static_cast<uint16_t>(idx % size)}, &entry, 2);
    ++idx;
    (void)ram_.write_bytes(avail + 2, &idx, 2);
  }

  // A frame from the backend, its bytes taken from the RAM image.
  void deliver(const Action& action, std::span<const uint8_t> ram_image) {
    size_t len = size_t{action.a & 1u} << 16 | action.b;
    frame_.resize(len);
    for (size_t i = 0; i < len; ++i) {
      frame_[i] = ram_image.empty() ? static_cast<uint8_t>(i)
                                    : ram_image[(action.c + i) % ram_image.size()];
    }
    bool running = device_running() && queue_ready(VirtioNet::kRxQueue);
    bool taken = backend_->sink_->deliver(frame_);
    if (!taken) {
      if (!running) fail("a frame was refused while the device was not running");
      backend_->waiting = true;
    }
  }

  vessel::memory::AddressSpace& ram_;
  Config config_;
  FuzzBackend* backend_;
  std::unique_ptr<VirtioMmio> dev_;
  uint16_t rx_size_, tx_size_;
  uint16_t rx_avail_ = 0, tx_avail_ = 0;
  std::vector<uint8_t> frame_;
};

vessel::memory::AddressSpace& guest_ram() {
  static vessel::memory::AddressSpace* ram = [] {
    auto* r = new vessel::memory::AddressSpace;
    if (!r->map_ram(0, kRamSize).ok()) fail("cannot map guest RAM");
    return r;
  }();
  return *ram;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Guest errors are the point here: keep stderr for findings.
  vessel::log::set_level(vessel::log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kRamOffset) return 0;
  Config config;
  std::memcpy(&config, data, sizeof config);
  Action actions[kMaxActions];
  std::memcpy(actions, data + kActionsOffset, sizeof actions);

  vessel::memory::AddressSpace& ram = guest_ram();
  std::span<const uint8_t> image(data + kRamOffset, std::min(size - kRamOffset, kRamSize));
  std::memset(ram.ram_host(), 0, kRamSize);
  std::memcpy(ram.ram_host(), image.data(), image.size());

  Harness harness(ram, config);
  harness.bring_up();
  for (const Action& action : actions) harness.run(action, image);
  return 0;
}

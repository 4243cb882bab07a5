// Writes the seed corpus of the virtio-net fuzz target: inputs whose rings
// hold well-formed chains (plain and indirect, single and mergeable receive
// buffers, offloads with a vnet-header backend) and a few broken ones, so
// that the fuzzer starts from traffic that reaches the device's data paths.
// Usage: virtio_net_seeds DIR
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "virtio_net_input.h"

namespace {

using namespace vessel::fuzz::virtio_net;

constexpr uint16_t kNext = 1, kWrite = 2, kIndirect = 4;
constexpr uint64_t kAllFeatures = ~uint64_t{0};
constexpr uint64_t kMrgRxbuf = uint64_t{1} << 15;

class Seed {
 public:
  Seed(uint8_t flags, unsigned rx_log2, unsigned tx_log2, uint64_t features)
      : bytes_(kRamOffset + 0x8000, 0) {
    Config c{};
    c.flags = flags;
    c.rx_size_log2 = static_cast<uint8_t>(rx_log2);
    c.tx_size_log2 = static_cast<uint8_t>(tx_log2);
    c.features_low = static_cast<uint32_t>(features);
    c.features_high = static_cast<uint32_t>(features >> 32);
    std::memcpy(bytes_.data(), &c, sizeof c);
  }

  void action(Op op, uint8_t a = 0, uint16_t b = 0, uint16_t c = 0) {
    if (actions_ == kMaxActions) return;
    Action act{op, a, b, c};
    std::memcpy(&bytes_[kActionsOffset + sizeof(Action) * actions_++], &act, sizeof act);
  }
  void deliver(size_t len, uint16_t from = 0x7000) {
    action(kDeliver, static_cast<uint8_t>(len >> 16), static_cast<uint16_t>(len), from);
  }

  void ram(uint64_t addr, const void* data, size_t len) {
    std::memcpy(&bytes_[kRamOffset + addr], data, len);
  }
  void ram16(uint64_t addr, uint16_t v) { ram(addr, &v, 2); }
  void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
            uint16_t next = 0) {
    uint8_t d[16];
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
    ram(table + 16 * uint64_t{i}, d, sizeof d);
  }
  // The available ring of the queue at `avail` lists `heads`.
  void avail(uint64_t avail, const std::vector<uint16_t>& heads) {
    for (size_t i = 0; i < heads.size(); ++i) ram16(avail + 4 + 2 * i, heads[i]);
    ram16(avail + 2, static_cast<uint16_t>(heads.size()));
  }
  // A virtio-net header and an Ethernet frame of `len` bytes at `addr`.
  void frame(uint64_t addr, size_t len, uint8_t flags = 0, uint8_t gso = 0) {
    uint8_t h[12] = {flags, gso};
    ram(addr, h, sizeof h);
    for (size_t i = 0; i < len; ++i) bytes_[kRamOffset + addr + 12 + i] = static_cast<uint8_t>(i);
    const uint8_t eth[14] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52,
                             0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x00};
    ram(addr + 12, eth, std::min(len, sizeof eth));
  }
  // `count` receive chains of one `len`-byte buffer each.
  void rx_buffers(uint16_t count, uint32_t len) {
    std::vector<uint16_t> heads;
    for (uint16_t i = 0; i < count; ++i) {
      desc(kRxDesc, i, 0x5000 + uint64_t{len} * i, len, kWrite);
      heads.push_back(i);
    }
    avail(kRxAvail, heads);
  }

  bool write(const std::string& path) const {
    FILE* f = fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = fwrite(bytes_.data(), 1, bytes_.size(), f) == bytes_.size();
    return fclose(f) == 0 && ok;
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t actions_ = 0;
};

// Traffic both ways through a device without offloads, mergeable buffers.
Seed plain() {
  Seed s(0, 4, 4, kAllFeatures);
  s.frame(0x4000, 60);
  s.desc(kTxDesc, 0, 0x4000, 12 + 60, 0);
  s.frame(0x4100, 100);
  s.desc(kTxDesc, 1, 0x4100, 12, kNext, 2);
  s.desc(kTxDesc, 2, 0x4100 + 12, 100, 0);
  s.avail(kTxAvail, {0, 1});
  s.rx_buffers(4, 0x400);
  s.frame(0x7000, 2000);
  s.action(kNotifyTx);
  s.action(kNotifyRx);
  s.deliver(60);
  s.deliver(1514);
  s.deliver(3000);  // too many chains: waits
  s.action(kMakeAvailable, 0, 0);
  s.action(kNotifyRx);
  s.deliver(1514);
  s.action(kSaveLoad);
  s.action(kMakeAvailable, 1, 0);
  s.action(kNotifyTx);
  s.action(kReset, 0);
  s.action(kNotifyTx);
  s.action(kNotifyRx);
  s.deliver(100);
  s.action(kReset, 1);
  s.deliver(100);
  return s;
}

// One receive chain per frame, the header and frame in two descriptors.
Seed single_buffers() {
  Seed s(0, 3, 3, kAllFeatures & ~kMrgRxbuf);
  for (uint16_t i = 0; i < 4; ++i) {
    s.desc(kRxDesc, 2 * i, 0x5000 + 0x800 * i, 12, kWrite | kNext,
           static_cast<uint16_t>(2 * i + 1));
    s.desc(kRxDesc, 2 * i + 1, 0x5000 + 0x800 * i + 12, 1518, kWrite);
  }
  s.avail(kRxAvail, {0, 2, 4, 6});
  s.frame(0x7000, 1600);
  s.deliver(60);
  s.deliver(1518);
  s.deliver(1519);
  s.deliver(200);
  s.deliver(200);
  s.action(kMakeAvailable, 0, 0);
  s.action(kNotifyRx);
  s.deliver(70);
  return s;
}

// A vnet-header backend: checksum and TSO offloads, an indirect table.
Seed offloads() {
  Seed s(kVnetHeader, 5, 4, kAllFeatures);
  s.frame(0x4000, 3000, /*flags=*/1, /*gso=*/1);
  s.desc(0x4f00, 0, 0x4000, 12, kNext, 1);
  s.desc(0x4f00, 1, 0x4000 + 12, 1000, kNext, 2);
  s.desc(0x4f00, 2, 0x4000 + 12 + 1000, 2000, 0);
  s.desc(kTxDesc, 0, 0x4f00, 48, kIndirect);
  s.frame(0x4c00, 60, /*flags=*/1);
  s.desc(kTxDesc, 1, 0x4c00, 12 + 60, 0);
  s.avail(kTxAvail, {0, 1});
  s.rx_buffers(8, 0x400);
  s.frame(0x7000, 3000, /*flags=*/1, /*gso=*/1);
  s.action(kNotifyTx);
  s.deliver(12 + 3000);
  s.deliver(12 + 60);
  s.deliver(8);
  s.action(kRegisterWrite, 0x70 / 4, 0, 0);  // status 0: reset by register
  s.deliver(12 + 60);
  return s;
}

// Broken chains: a transmit loop, a readable receive buffer.
Seed broken() {
  Seed s(0, 2, 2, kAllFeatures);
  s.desc(kTxDesc, 0, 0x4000, 20, kNext, 1);
  s.desc(kTxDesc, 1, 0x4000, 20, kNext, 0);
  s.avail(kTxAvail, {0});
  s.desc(kRxDesc, 0, 0x5000, 0x400, 0);
  s.avail(kRxAvail, {0});
  s.frame(0x7000, 100);
  s.deliver(100);
  s.action(kNotifyTx);
  s.action(kReset, 0);
  s.action(kNotifyTx);
  s.action(kPoke, 0, 0x2000 + 12, kWrite);
  s.action(kReset, 0);
  s.action(kNotifyTx);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const Seed seeds[] = {plain(), single_buffers(), offloads(), broken()};
  for (size_t i = 0; i < std::size(seeds); ++i) {
    std::string path = dir + "/seed" + std::to_string(i + 1);
    if (!seeds[i].write(path)) {
      perror(path.c_str());
      return 1;
    }
  }
  printf("%zu\n", std::size(seeds));
  return 0;
}

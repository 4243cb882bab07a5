// The input format of the virtio-net fuzz target, shared with the program
// that writes its seed corpus.
//
//   [0, 16)    Config: backend kind, features, queue sizes
//   [16, 208)  kMaxActions Actions of 6 bytes each: what the driver and the
//              backend do, in order
//   [208, 256) unused
//   [256, …)   guest RAM from address 0 (at most kRamSize bytes; the rest
//              of RAM is zero), where the driver keeps both queues' rings
//              at the fixed places below and buffers anywhere
#pragma once

#include <cstddef>
#include <cstdint>

namespace vessel::fuzz::virtio_net {

inline constexpr size_t kRamSize = 0x10000;
inline constexpr size_t kRamOffset = 256;

inline constexpr uint64_t kRxDesc = 0x0000, kRxAvail = 0x1000, kRxUsed = 0x1400;
inline constexpr uint64_t kTxDesc = 0x2000, kTxAvail = 0x3000, kTxUsed = 0x3400;
inline constexpr uint64_t kBuffers = 0x4000;  // free for buffers and indirect tables

struct Config {
  uint8_t flags;         // kVnetHeader
  uint8_t rx_size_log2;  // queue sizes: 1 << (value % 9)
  uint8_t tx_size_log2;
  uint8_t unused;
  uint32_t features_low;   // ANDed with what the device offers;
  uint32_t features_high;  // VERSION_1 is always added
  uint32_t unused2;
};
static_assert(sizeof(Config) == 16);
inline constexpr uint8_t kVnetHeader = 1;

enum Op : uint8_t {
  kNotifyTx = 0,
  kNotifyRx = 1,
  kDeliver = 2,        // a frame of ((a & 1) << 16 | b) bytes taken from RAM at c
  kReset = 3,          // a & 1: stay reset; else set the device up again
  kMakeAvailable = 4,  // queue a & 1: head b into the available ring
  kPoke = 5,           // RAM[b] = c (16 bits)
  kSaveLoad = 6,       // save the device's state and load it back
  kRegisterWrite = 7,  // register (a % 64) * 4 := b | c << 16
  kNumOps = 8,
};

struct Action {
  uint8_t op;  // modulo kNumOps
  uint8_t a;
  uint16_t b;
  uint16_t c;
};
static_assert(sizeof(Action) == 6);
inline constexpr size_t kMaxActions = 32;
inline constexpr size_t kActionsOffset = sizeof(Config);
static_assert(kActionsOffset + kMaxActions * sizeof(Action) <= kRamOffset);

}  // namespace vessel::fuzz::virtio_net

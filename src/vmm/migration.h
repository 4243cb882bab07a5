// Live migration of a VM over a stream socket (QMP `migrate tcp:…` into
// `vessel run --incoming tcp:…`). Pre-copy: RAM is sent while the guest
// runs, then the pages it dirtied meanwhile (the memory layer's dirty log),
// pass after pass until what is left would go in the downtime limit; then
// the VM stops, the last pages and the device state go, and the destination
// confirms. Zero pages travel as markers. Disks are not sent: both sides
// open the same images (shared storage).
//
// Stream: "VESSELMG", u32 version, u64 RAM size; then records
//   'P' u64 page, 4096 bytes | 'Z' u64 page | 'S' u64 length, state (no RAM)
//   | 'Y' (version 2: the destination answers 'Y' once it has applied
//   everything before it; each pass ends with one)
// and the destination answers 'A' once the VM is restored. Every page comes
// in pass 1. A destination takes versions 1 and 2.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "vmm/vm.h"

namespace vessel::vmm {

inline constexpr uint32_t kMigrationVersion = 2;

struct MigrationParams {
  uint64_t downtime_limit_ms = 300;  // QEMU's default
  unsigned max_passes = 30;          // then stop the VM whatever is left
};

// Progress, read by query-migrate while the migration runs.
struct MigrationStats {
  std::atomic<uint64_t> transferred{0};  // bytes
  std::atomic<uint64_t> normal_pages{0};
  std::atomic<uint64_t> zero_pages{0};
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> remaining{0};  // bytes dirty at the last look
  std::atomic<uint64_t> downtime_ms{0};
  std::atomic<bool> cancel{false};
};

// Source side. Returns once the destination has the VM; the VM is then
// paused here. On any failure (cancel, destination gone, stream cut) a VM
// that was running runs again and the error is returned.
Result<void> send_vm(Vm& vm, int fd, const MigrationParams& params, MigrationStats& stats);
// Destination side: `vm` is made from the same configuration and not running.
Result<void> receive_vm(Vm& vm, int fd);

// "HOST:PORT" → a connected TCP socket.
Result<int> connect_tcp(const std::string& host_port);
// "HOST:PORT" → listens there and returns the first connection, unless
// give_up() (asked every 200 ms) says to stop waiting.
Result<int> accept_tcp(const std::string& host_port, const std::function<bool()>& give_up);

}  // namespace vessel::vmm

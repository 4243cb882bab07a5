// QEMU's "sifive,test" finisher at 0x100000: the guest writes one 32-bit word
// to power off, reset, or report a failure code (Linux's syscon-poweroff and
// syscon-reboot, OpenSBI's system reset, and bare-metal tests use it).
#pragma once

#include <cstdint>
#include <functional>

#include "base/log.h"
#include "base/result.h"
#include "base/state.h"
#include "memory/mmio.h"

namespace vessel::devices {

struct PowerRequest {
  enum class Kind { kPowerOff, kReset, kFail } kind;
  uint16_t code;  // for kFail: the guest's failure code
};

class TestDevice : public memory::MmioHandler {
 public:
  // `on_request` is called on the vCPU thread that wrote the request.
  explicit TestDevice(std::function<void(PowerRequest)> on_request);

  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // The device has no state; the section exists so a saved machine lists it.
  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  std::function<void(PowerRequest)> on_request_;
  log::GuestErrorLog guest_errors_;
};

}  // namespace vessel::devices

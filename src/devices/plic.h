// SiFive PLIC as on QEMU's `virt` board (RISC-V PLIC spec 1.0.0): 96 sources
// (1..95, 0 means "none"), 7 priority levels, two contexts per hart — context
// 2h is hart h's M-mode, 2h+1 its S-mode. Gateways are level-triggered: a
// claimed source stays masked until completed, and a source whose line is
// still high when completed becomes pending again.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "base/state.h"
#include "devices/irq.h"
#include "memory/mmio.h"

namespace vessel::devices {

class Plic : public memory::MmioHandler {
 public:
  static constexpr unsigned kSources = 96;
  static constexpr uint32_t kMaxPriority = 7;
  static constexpr uint64_t kWindowSize = 0x600000;

  // `context_outputs[c]` drives context c's external-interrupt pin (MEIP or
  // SEIP of its hart); there are 2 * num_harts contexts. Outputs are called
  // with the PLIC's lock held and must not call back into the PLIC.
  Plic(unsigned num_harts, std::vector<IrqLine> context_outputs);

  // A device's interrupt line. Thread-safe; sources 0 and >= kSources are ignored.
  void set_source_level(unsigned source, bool level);

  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override;
  bool mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Machine reset: every register at its reset value. Input lines stay as
  // the devices drive them.
  void reset();

  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  using SourceSet = std::bitset<kSources>;
  struct Context {
    SourceSet enabled;
    uint32_t threshold = 0;
    bool output = false;  // last level driven on the pin
  };

  uint32_t read_reg(uint64_t offset);
  void write_reg(uint64_t offset, uint32_t value);
  unsigned best_pending(const Context& ctx) const;
  uint32_t claim(Context& ctx);
  void complete(Context& ctx, uint32_t source);
  // Drives the context pins whose level changed (all of them: `drive_all`).
  void update_outputs(bool drive_all = false);
  void drive_output(size_t index, bool level);

  std::vector<IrqLine> outputs_;
  log::GuestErrorLog guest_errors_;

  mutable std::mutex mutex_;
  std::array<uint32_t, kSources> priority_{};
  SourceSet level_;       // the devices' input lines
  SourceSet pending_;     // gateway has forwarded a request not yet claimed
  SourceSet in_service_;  // claimed, not yet completed: the gateway is closed
  std::vector<Context> contexts_;
};

}  // namespace vessel::devices

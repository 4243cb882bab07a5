#include "devices/test_device.h"

#include <utility>

namespace vessel::devices {
namespace {

// The low half-word selects the action; for a failure the high half-word is the code.
constexpr uint32_t kFail = 0x3333;
constexpr uint32_t kPass = 0x5555;
constexpr uint32_t kReset = 0x7777;

constexpr uint32_t kStateVersion = 1;

}  // namespace

TestDevice::TestDevice(std::function<void(PowerRequest)> on_request)
    : on_request_(std::move(on_request)) {}

bool TestDevice::mmio_read(uint64_t /*offset*/, unsigned /*size*/, uint64_t& value) {
  value = 0;
  return true;
}

bool TestDevice::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset != 0 || (size != 4 && size != 2)) {
    guest_errors_.warn("test device: %u-byte write of 0x%llx at offset 0x%llx ignored", size,
                       static_cast<unsigned long long>(value),
                       static_cast<unsigned long long>(offset));
    return true;
  }
  auto word = static_cast<uint32_t>(value);
  auto code = static_cast<uint16_t>(word >> 16);
  PowerRequest request;
  switch (word & 0xffff) {
    case kPass:
      request = {PowerRequest::Kind::kPowerOff, 0};
      break;
    case kReset:
      request = {PowerRequest::Kind::kReset, 0};
      break;
    case kFail:
      request = {PowerRequest::Kind::kFail, code};
      break;
    default:
      guest_errors_.warn("test device: unknown command 0x%08x ignored", word);
      return true;
  }
  if (on_request_) on_request_(request);
  return true;
}

void TestDevice::save(StateWriter& out) const {
  out.begin_section("sifive-test", kStateVersion);
  out.end_section();
}

Result<void> TestDevice::load(StateReader& in) {
  TRY(in.begin_section("sifive-test", kStateVersion));
  return in.end_section();
}

}  // namespace vessel::devices

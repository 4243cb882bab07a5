#include "net/open_backend.h"

#include "net/slirp_backend.h"
#include "net/tap_backend.h"

namespace vessel::net {

Result<std::unique_ptr<NetBackend>> open_backend(const NicConfig& nic) {
  switch (nic.kind) {
    case NicConfig::Kind::kUser: {
      TRY_ASSIGN(std::unique_ptr<SlirpBackend> b, SlirpBackend::open(nic.user));
      return std::unique_ptr<NetBackend>(std::move(b));
    }
    case NicConfig::Kind::kTap: {
      TRY_ASSIGN(std::unique_ptr<TapBackend> b, TapBackend::open_tap(nic.ifname));
      return std::unique_ptr<NetBackend>(std::move(b));
    }
    case NicConfig::Kind::kBridge: {
      TRY_ASSIGN(std::unique_ptr<TapBackend> b, TapBackend::open_bridge(nic.bridge));
      return std::unique_ptr<NetBackend>(std::move(b));
    }
    case NicConfig::Kind::kNone:
      break;
  }
  return Error("a NIC of kind none has no backend");
}

}  // namespace vessel::net

#include "daemon/domain_def.h"

#include <cstdio>
#include <random>

namespace vessel::daemon {

std::string format_uuid(const Uuid& uuid) {
  char text[37];
  char* out = text;
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *out++ = '-';
    out += std::snprintf(out, 3, "%02x", uuid[i]);
  }
  return {text, 36};
}

std::optional<Uuid> parse_uuid(const std::string& text) {
  // libvirt accepts the hex digits with or without dashes between groups.
  Uuid uuid{};
  size_t digits = 0;
  for (char c : text) {
    if (c == '-') continue;
    int value;
    if (c >= '0' && c <= '9') {
      value = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      value = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      value = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (digits == 32) return std::nullopt;
    uuid[digits / 2] = static_cast<uint8_t>(uuid[digits / 2] << 4 | value);
    ++digits;
  }
  if (digits != 32) return std::nullopt;
  return uuid;
}

Uuid random_uuid() {
  std::random_device source;
  Uuid uuid;
  for (auto& byte : uuid) byte = static_cast<uint8_t>(source());
  uuid[6] = static_cast<uint8_t>((uuid[6] & 0x0f) | 0x40);  // version 4
  uuid[8] = static_cast<uint8_t>((uuid[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return uuid;
}

}  // namespace vessel::daemon

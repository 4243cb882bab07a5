#include "base/size_text.h"

#include <cmath>
#include <cstdio>

namespace vessel {

std::string human_size(uint64_t bytes) {
  static const char* const kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int exponent = 0;
  std::frexp(static_cast<double>(bytes) / (1000.0 / 1024.0), &exponent);
  int i = exponent <= 0 ? 0 : (exponent - 1) / 10;
  if (i > 6) i = 6;
  double div = static_cast<double>(uint64_t{1} << (i * 10));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%0.3g %sB", static_cast<double>(bytes) / div, kSuffixes[i]);
  return buf;
}

}  // namespace vessel

// Vessel's version, one place for every program that reports it.
#pragma once

namespace vessel {

inline constexpr unsigned kVersionMajor = 0;
inline constexpr unsigned kVersionMinor = 1;
inline constexpr unsigned kVersionMicro = 0;
inline constexpr const char* kVersionString = "0.1.0";

}  // namespace vessel

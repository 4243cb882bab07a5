// A level-triggered interrupt wire from a device to an interrupt controller
// input, or from a controller to a hart's interrupt pin. The machine connects
// the ends; devices never know what is on the other side.
#pragma once

#include <functional>

namespace vessel::devices {

using IrqLine = std::function<void(bool level)>;

}  // namespace vessel::devices

// libvirt's typed parameters (remote_typed_param lists), as migration calls
// carry them. Vessel reads the string ones and skips the others' values.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "daemon/xdr.h"

namespace vessel::daemon {

using TypedParams = std::map<std::string, std::string>;

// Decodes a list (numbers as decimal text); a list longer than libvirt's
// bound or an unknown type fails the reader.
TypedParams read_typed_params(XdrReader& reader);
// Encodes `params`, every one a string parameter.
void write_typed_params(XdrWriter& writer, const TypedParams& params);
// The value of `name`, empty if absent.
std::string param(const TypedParams& params, const char* name);

}  // namespace vessel::daemon

#include "daemon/typed_params.h"

#include "daemon/rpc_message.h"

namespace vessel::daemon {
namespace {

constexpr uint32_t kParamsMax = 64;  // REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX
enum Type : int32_t { kInt = 1, kUint, kLlong, kUllong, kDouble, kBoolean, kString };

}  // namespace

TypedParams read_typed_params(XdrReader& reader) {
  TypedParams params;
  uint32_t count = reader.u32();
  if (count > kParamsMax) {
    reader.fail();
    return params;
  }
  for (uint32_t i = 0; i < count && reader.ok(); ++i) {
    std::string field = reader.string(rpc::kStringMax);
    switch (reader.i32()) {
      case kInt:
      case kUint:
      case kBoolean:
        params[field] = std::to_string(reader.i32());
        break;
      case kLlong:
      case kUllong:
      case kDouble:  // 8 bytes; its value is not needed
        params[field] = std::to_string(reader.i64());
        break;
      case kString:
        params[field] = reader.string(rpc::kStringMax);
        break;
      default:
        reader.fail();
    }
  }
  return params;
}

void write_typed_params(XdrWriter& writer, const TypedParams& params) {
  writer.u32(static_cast<uint32_t>(params.size()));
  for (const auto& [field, value] : params) {
    writer.string(field);
    writer.i32(kString);
    writer.string(value);
  }
}

std::string param(const TypedParams& params, const char* name) {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

}  // namespace vessel::daemon

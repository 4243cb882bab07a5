#include "storage/create.h"

#include <utility>

namespace vessel::storage {

Result<CreatePlan> plan_create(CreateRequest request) {
  CreatePlan plan;
  plan.path = std::move(request.path);
  plan.format = request.format;
  plan.options = std::move(request.options);
  const std::string& path = plan.path;
  block::Qcow2CreateOptions& q = plan.options.qcow2;
  std::optional<uint64_t> size = request.size ? request.size : plan.options.size;
  std::string backing = std::move(request.backing_file);
  std::string backing_format = std::move(request.backing_format);
  if (!plan.options.backing_file.empty()) backing = plan.options.backing_file;
  if (!plan.options.backing_format.empty()) backing_format = plan.options.backing_format;
  const bool unsafe = request.backing_check == BackingCheck::kUnchecked;

  // qemu-img's limit, and it rounds a size up to whole 512-byte sectors
  // (1234 → 1536).
  if (size && *size > (uint64_t{INT64_MAX} & ~uint64_t{511})) {
    return Error(path + ": Invalid image size specified. Must be between 0 and " +
                 std::to_string(INT64_MAX) + ".");
  }
  if (size) size = (*size + 511) & ~uint64_t{511};

  if (plan.format == block::ImageFormat::kRaw) {
    if (!backing.empty()) return Error(path + ": the raw format does not support backing files");
    if (!size)
      return Error(path + ": image size is required (e.g. 'vessel img create " + path + " 10G')");
    plan.size = *size;
    return plan;
  }

  TRY(check_img_create_options(path, plan.options));
  if (!backing.empty()) {
    std::string resolved = resolve_backing_path(path, backing);
    if (backing_format.empty()) {
      if (unsafe) return Error(path + ": Backing file specified without backing format");
      auto probed = block::probe_image_format(resolved);
      if (!probed) return Error("could not open backing file: " + probed.error().message());
      backing_format = block::image_format_name(*probed);
    } else {
      TRY(parse_format_option(backing_format));
    }
    if (!unsafe) {
      auto opened = open_image(resolved, backing_format, false);
      if (!opened) return Error("could not open backing file: " + opened.error().message());
      if (!size) size = opened->backend->size();
    }
    q.backing_file = backing;
    q.backing_format = backing_format;
    q.backing_unchecked = unsafe;
  } else if (!backing_format.empty()) {
    return Error(path + ": a backing format (-F) needs a backing file (-b)");
  }
  if (!size)
    return Error(path + ": image size is required (e.g. 'vessel img create -f qcow2 " + path +
                 " 10G')");
  q.size = *size;
  plan.size = *size;
  return plan;
}

std::string CreatePlan::formatting_line() const {
  return format == block::ImageFormat::kRaw ? raw_formatting_line(path, size, options)
                                            : qcow2_formatting_line(path, options);
}

Result<void> create_image(const CreatePlan& plan, const Warn& warn) {
  if (plan.format == block::ImageFormat::kRaw) {
    return create_raw_image(plan.path, plan.size, plan.options, warn);
  }
  TRY(block::Qcow2Image::create(plan.path, qcow2_create_options(plan.options, warn)));
  return Ok();
}

}  // namespace vessel::storage

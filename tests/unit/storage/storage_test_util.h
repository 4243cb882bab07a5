// Helpers for the image operation tests: images made and read through the
// library itself.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../block/qcow2_test_util.h"
#include "storage/create.h"
#include "storage/image_open.h"
#include "storage/image_spec.h"

namespace vessel::storage::testing {

using block::testing::TempDir;

// The image file at `path`, of probed format.
inline ImageSpec file_spec(const std::string& path) {
  ImageSpec spec;
  spec.name = spec.path = path;
  return spec;
}

// A request for an image of `format` at `path`.
inline CreateRequest create_request(const std::string& path, block::ImageFormat format) {
  CreateRequest request;
  request.path = path;
  request.format = format;
  return request;
}

// A new image of `size` bytes (qcow2 with a backing file when one is given).
inline void make_image(const std::string& path, block::ImageFormat format, uint64_t size,
                       const std::string& backing = "") {
  CreateRequest request = create_request(path, format);
  request.size = size;
  request.backing_file = backing;
  auto plan = plan_create(std::move(request));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  auto made = create_image(*plan);
  ASSERT_TRUE(made.ok()) << made.error().message();
}

inline void write_bytes(const std::string& path, uint64_t offset, std::vector<uint8_t> data) {
  auto image = open_image(path, "", true);
  ASSERT_TRUE(image.ok()) << image.error().message();
  ASSERT_TRUE(image->backend->write(offset, data).ok());
  auto done = image->qcow2 != nullptr ? image->qcow2->close() : image->backend->flush();
  ASSERT_TRUE(done.ok()) << done.error().message();
}

inline std::vector<uint8_t> read_bytes(const std::string& path, uint64_t offset, size_t length) {
  std::vector<uint8_t> data(length);
  auto image = open_image(path, "", false);
  EXPECT_TRUE(image.ok()) << image.error().message();
  if (image.ok()) {
    EXPECT_TRUE(image->backend->read(offset, data).ok());
  }
  return data;
}

}  // namespace vessel::storage::testing

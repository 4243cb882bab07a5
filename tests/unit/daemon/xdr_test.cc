#include "daemon/xdr.h"

#include <gtest/gtest.h>

#include "daemon/rpc_message.h"

namespace vessel::daemon {
namespace {

TEST(Xdr, EncodesAsRfc4506) {
  XdrWriter w;
  w.u32(0x01020304);
  w.i32(-1);
  w.u64(0x0102030405060708);
  w.string("abcde");
  w.optional_string(std::nullopt);
  w.char_array(std::string("a\0", 2));
  const std::vector<uint8_t> expected = {
      1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 1,   2,   3,   4, 5, 6,
      7, 8, 0, 0, 0,    5,    'a',  'b',  'c', 'd', 'e', 0, 0, 0,  // padded
      0, 0, 0, 0,                                                  // absent
      0, 0, 0, 2, 0,    0,    0,    'a',  0,   0,   0,   0};       // a char per unit
  EXPECT_EQ(w.bytes(), expected);
}

TEST(Xdr, DecodesWhatItEncodes) {
  XdrWriter w;
  w.u32(7);
  w.i64(-5);
  w.string("name");
  w.optional_string("uri");
  std::array<uint8_t, 16> uuid{};
  uuid[15] = 9;
  w.fixed_opaque(uuid);
  XdrReader r(w.bytes());
  EXPECT_EQ(r.u32(), 7u);
  EXPECT_EQ(r.i64(), -5);
  EXPECT_EQ(r.string(100), "name");
  EXPECT_EQ(r.optional_string(100), "uri");
  EXPECT_EQ(r.fixed_opaque<16>(), uuid);
  EXPECT_TRUE(r.done());
}

TEST(Xdr, TruncatedInputFailsWithoutReadingPastTheEnd) {
  const std::vector<uint8_t> bytes = {0, 0, 0, 8, 'a', 'b'};  // says 8, holds 2
  XdrReader r(bytes);
  EXPECT_EQ(r.string(100), "");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u32(), 0u);  // sticky
}

TEST(Xdr, HostileLengthsFailBeforeAllocating) {
  const std::vector<uint8_t> huge = {0xff, 0xff, 0xff, 0xf0};
  XdrReader r(huge);
  EXPECT_TRUE(r.opaque(UINT32_MAX).empty());
  EXPECT_FALSE(r.ok());
  XdrWriter w;
  w.string("too long");
  XdrReader limited(w.bytes());
  limited.string(4);
  EXPECT_FALSE(limited.ok());
}

TEST(Xdr, EmptyOpaqueDataDecodes) {
  XdrWriter w;
  w.opaque({});
  w.u32(5);
  XdrReader r(w.bytes());
  EXPECT_TRUE(r.opaque(16).empty());
  EXPECT_EQ(r.u32(), 5u);
  EXPECT_TRUE(r.done());
}

TEST(Xdr, BooleansAreZeroOrOne) {
  const std::vector<uint8_t> two = {0, 0, 0, 2};
  XdrReader r(two);
  r.boolean();
  EXPECT_FALSE(r.ok());
}

TEST(Xdr, TrailingBytesAreNotDone) {
  const std::vector<uint8_t> bytes = {0, 0, 0, 1, 0};
  XdrReader r(bytes);
  r.u32();
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.done());
}

TEST(RpcMessage, FramesAHeaderAndPatchesTheLength) {
  XdrWriter w =
      rpc::begin_message({rpc::kRemoteProgram, 1, 23, rpc::Type::kReply, 42, rpc::Status::kError});
  w.u32(0xabcdef01);
  std::vector<uint8_t> message = rpc::finish(w);
  ASSERT_EQ(message.size(), 32u);
  auto length = rpc::parse_length(std::span<const uint8_t, 4>(message.data(), 4));
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 32u);
  XdrReader r(std::span<const uint8_t>(message).subspan(4));
  auto header = rpc::parse_header(r);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->program, rpc::kRemoteProgram);
  EXPECT_EQ(header->procedure, 23);
  EXPECT_EQ(header->type, rpc::Type::kReply);
  EXPECT_EQ(header->serial, 42u);
  EXPECT_EQ(header->status, rpc::Status::kError);
  EXPECT_EQ(r.u32(), 0xabcdef01u);
}

TEST(RpcMessage, RefusesLengthsOutsideTheProtocolsBounds) {
  for (uint32_t bad : {0u, 27u, rpc::kMessageMax + 1}) {
    XdrWriter w;
    w.u32(bad);
    EXPECT_FALSE(rpc::parse_length(std::span<const uint8_t, 4>(w.bytes().data(), 4)).ok()) << bad;
  }
}

TEST(RpcMessage, RefusesUnknownTypesAndStatuses) {
  XdrWriter w;
  for (uint32_t v : {1u, 1u, 1u, 9u, 1u, 0u}) w.u32(v);
  XdrReader r(w.bytes());
  EXPECT_FALSE(rpc::parse_header(r).ok());
}

TEST(RpcMessage, ErrorPayloadIsRemoteError) {
  XdrWriter w;
  rpc::write_error(w, 42, 10, "gone");
  XdrReader r(w.bytes());
  EXPECT_EQ(r.i32(), 42);
  EXPECT_EQ(r.i32(), 10);
  EXPECT_EQ(r.optional_string(100), "gone");
  EXPECT_EQ(r.i32(), 2);  // VIR_ERR_ERROR
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(r.boolean());
  EXPECT_EQ(r.i32(), 0);
  EXPECT_EQ(r.i32(), 0);
  EXPECT_FALSE(r.boolean());
  EXPECT_TRUE(r.done());
}

}  // namespace
}  // namespace vessel::daemon

#include "core/byte_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace freshet::byte_codec {
namespace {

TEST(ByteCodecTest, EveryKindRoundTrips) {
  std::string out;
  PutVarint(&out, 300);
  PutSigned(&out, -7);
  PutFixed32(&out, 0xdeadbeef);
  PutFixed64(&out, 1ull << 40);
  PutDouble(&out, 2.5);
  PutBytes(&out, "varint-length");
  PutBytes32(&out, "fixed-length");
  PutValue(&out, Value::String("v"));
  ByteReader in(out);
  uint64_t u;
  int64_t i;
  uint32_t f32;
  uint64_t f64;
  double d;
  std::string_view b1, b2;
  Value v;
  ASSERT_TRUE(in.GetVarint(&u) && in.GetSigned(&i) && in.GetFixed32(&f32) && in.GetFixed64(&f64) &&
              in.GetDouble(&d) && in.GetBytes(&b1) && in.GetBytes32(&b2) && in.GetValue(&v));
  EXPECT_EQ(u, 300u);
  EXPECT_EQ(i, -7);
  EXPECT_EQ(f32, 0xdeadbeefu);
  EXPECT_EQ(f64, 1ull << 40);
  EXPECT_EQ(d, 2.5);
  EXPECT_EQ(b1, "varint-length");
  EXPECT_EQ(b2, "fixed-length");
  EXPECT_EQ(v, Value::String("v"));
  EXPECT_TRUE(in.empty());
}

TEST(ByteCodecTest, LengthsPastTheEndAreRefused) {
  std::string out;
  PutBytes32(&out, "abcdef");
  for (size_t cut = 0; cut < out.size(); ++cut) {
    ByteReader in(std::string_view(out).substr(0, cut));
    std::string_view s;
    EXPECT_FALSE(in.GetBytes32(&s)) << "cut at " << cut;
  }
  std::string huge;
  PutFixed32(&huge, 0xffffffffu);
  huge += "xy";
  ByteReader in(huge);
  std::string_view s;
  EXPECT_FALSE(in.GetBytes32(&s));
}

}  // namespace
}  // namespace freshet::byte_codec

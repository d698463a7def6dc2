#include "core/parse_int.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

TEST(ParseIntTest, ReadsWholeDecimalIntegers) {
  EXPECT_EQ(*ParseInt64("0", "n"), 0);
  EXPECT_EQ(*ParseInt64("-42", "n"), -42);
  EXPECT_EQ(*ParseInt64("9223372036854775807", "n"), INT64_MAX);
  EXPECT_EQ(*ParseInt64("-9223372036854775808", "n"), INT64_MIN);
}

TEST(ParseIntTest, NamesTheFieldAndTheText) {
  EXPECT_EQ(ParseInt64("99999999999999999999", "as_of").status().message(),
            "as_of: '99999999999999999999' is out of range for a 64-bit integer");
  EXPECT_EQ(ParseInt64("12ab", "limit").status().message(), "limit: '12ab' is not an integer");
  EXPECT_EQ(ParseInt64("", "limit").status().message(), "limit: '' is not an integer");
  EXPECT_EQ(ParseInt64(" 1", "limit").status().message(), "limit: ' 1' is not an integer");
  EXPECT_EQ(ParseInt64("+1", "limit").status().message(), "limit: '+1' is not an integer");
  EXPECT_EQ(ParseInt64("1", "limit").status().code(), StatusCode::kOk);
}

TEST(ParseIntTest, ChecksTheRange) {
  EXPECT_EQ(*ParseInt64InRange("10", "limit", 1, 10), 10);
  EXPECT_EQ(ParseInt64InRange("0", "limit", 1, 10).status().message(), "limit: 0 is not in 1-10");
  EXPECT_EQ(ParseInt64InRange("-3", "limit", 1, 10).status().message(), "limit: -3 is not in 1-10");
  EXPECT_EQ(ParseInt64InRange("11", "limit", 1, 10).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace freshet

#include "quality/record_locator.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

TEST(RecordLocatorTest, NdjsonLinesSkipBlankLines) {
  ParseError at;
  LocateRecord("{\"a\":1}\n\n  \n{\"a\":2}\n{\"a\":3}\n", 3, 2, &at);
  EXPECT_EQ(at.line, 5u);
  EXPECT_EQ(at.record, 0u);
  ParseError in_block;
  LocateRecord("{\"a\":1}\n{\"a\":2}\n", 2, 1, &in_block, /*first_line=*/1001);
  EXPECT_EQ(in_block.line, 1002u);
}

TEST(RecordLocatorTest, ArraysAndLoneObjectsAreNumbered) {
  ParseError array;
  LocateRecord(" [{\"a\":1},\n{\"a\":2}]", 2, 1, &array);
  EXPECT_EQ(array.record, 2u);
  EXPECT_EQ(array.line, 0u);
  ParseError lone;
  LocateRecord("{\n \"a\": 1\n}\n", 1, 0, &lone);
  EXPECT_EQ(lone.record, 1u);
}

}  // namespace
}  // namespace freshet

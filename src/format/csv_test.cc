#include "format/csv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace freshet {
namespace {

TEST(CsvParserTest, QuotesLineBreaksAndCrlf) {
  CsvParser parser("a,\"b,\"\"c\"\"\",\r\n\r\n\"x\ny\",,z\np,q,\r\nlast", 1);
  CsvRow row;
  ASSERT_TRUE(parser.Next(&row));
  EXPECT_EQ(row.fields, (std::vector<std::string_view>{"a", "b,\"c\"", ""}));
  EXPECT_EQ(row.quoted, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(row.raw, "a,\"b,\"\"c\"\"\",");
  EXPECT_EQ(row.line, 1u);
  ASSERT_TRUE(parser.Next(&row));
  EXPECT_EQ(row.fields, (std::vector<std::string_view>{"x\ny", "", "z"}));
  EXPECT_EQ(row.line, 3u);
  ASSERT_TRUE(parser.Next(&row));  // no quotes: the fast path
  EXPECT_EQ(row.fields, (std::vector<std::string_view>{"p", "q", ""}));
  EXPECT_EQ(row.quoted, (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ(row.raw, "p,q,");
  EXPECT_EQ(row.line, 5u);
  ASSERT_TRUE(parser.Next(&row));  // no final line break
  EXPECT_EQ(row.fields, (std::vector<std::string_view>{"last"}));
  EXPECT_EQ(row.line, 6u);
  EXPECT_FALSE(parser.Next(&row));
}

TEST(CsvParserTest, FieldsAreQuotedOnlyWhenNeeded) {
  std::string out;
  AppendCsvField("plain", &out);
  AppendCsvField("a \"b\", c", &out);
  EXPECT_EQ(out, "plain\"a \"\"b\"\", c\"");
}

TEST(CsvCellTest, TypedByTheSchema) {
  Value v;
  EXPECT_TRUE(ParseCsvCell(FieldType::kInt64, "-42", &v));
  EXPECT_EQ(v, Value::Int(-42));
  EXPECT_FALSE(ParseCsvCell(FieldType::kInt64, "4.5", &v));
  EXPECT_FALSE(ParseCsvCell(FieldType::kInt64, "99999999999999999999", &v));
  EXPECT_TRUE(ParseCsvCell(FieldType::kDouble, "2.5", &v));
  EXPECT_EQ(v, Value::Double(2.5));
  EXPECT_TRUE(ParseCsvCell(FieldType::kBool, "t", &v));
  EXPECT_EQ(v, Value::Bool(true));
  EXPECT_FALSE(ParseCsvCell(FieldType::kBool, "yes", &v));
  EXPECT_TRUE(ParseCsvCell(FieldType::kTimestamp, "1970-01-01T00:00:01Z", &v));
  EXPECT_EQ(v, Value::Int(1000));
  EXPECT_FALSE(ParseCsvCell(FieldType::kTimestamp, "soon", &v));
}

SourceSpec Clicks() {
  SourceSpec s;
  s.name = "clicks";
  s.timestamp_field = "ts";
  s.fields = {{"user_id", FieldType::kString}, {"ts", FieldType::kInt64}, {"n", FieldType::kInt64}};
  return s;
}

TEST(CsvRecordParserTest, RowsBecomeRecordsByTheHeader) {
  SourceSpec source = Clicks();
  CsvRecordParser parser(source, "clicks.csv");
  CsvParser header_parser("n,extra,user_id,ts\n", 1);
  CsvRow header;
  ASSERT_TRUE(header_parser.Next(&header));
  ASSERT_TRUE(parser.SetHeader(header, {"user_id"}).ok());
  std::vector<Record> out;
  ASSERT_TRUE(parser.Parse("7,x,u1,1000\n,y,\"\",2000\n", 2, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].ts_ms, 1000);
  EXPECT_EQ(out[0].values[0], Value::String("u1"));
  EXPECT_EQ(out[0].values[2], Value::Int(7));
  EXPECT_TRUE(out[1].values[2].is_null());         // unquoted empty: null
  EXPECT_EQ(out[1].values[0], Value::String(""));  // quoted empty: an empty string
}

TEST(CsvRecordParserTest, ErrorsCarryFileLineAndField) {
  SourceSpec source = Clicks();
  CsvRecordParser parser(source, "clicks.csv");
  CsvParser header_parser("user_id,ts,n\n", 1);
  CsvRow header;
  ASSERT_TRUE(header_parser.Next(&header));
  ASSERT_TRUE(parser.SetHeader(header, {"user_id"}).ok());
  std::vector<Record> out;
  ParseError error;
  Status st = parser.Parse("u1,1,2\nu1,2,many\n", 10, &out, &error);
  EXPECT_EQ(st.message(), "clicks.csv:11: field 'n': expected int64, got 'many'");
  EXPECT_EQ(error.file, "clicks.csv");
  EXPECT_EQ(error.line, 11u);
  EXPECT_EQ(error.field, "n");
  st = parser.Parse("u1,1\n", 3, &out, &error);
  EXPECT_EQ(st.message(), "clicks.csv:3: expected 3 fields, got 2");
  EXPECT_EQ(error.field, "");
  st = parser.Parse(",1,2\n", 4, &out, &error);
  EXPECT_EQ(st.message(), "clicks.csv:4: field 'user_id': required but empty");

  CsvParser no_ts("user_id,n\n", 1);
  ASSERT_TRUE(no_ts.Next(&header));
  EXPECT_EQ(parser.SetHeader(header, {"user_id"}).message(),
            "clicks.csv: no column 'ts' in the header");
}

}  // namespace
}  // namespace freshet

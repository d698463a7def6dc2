#include "format/record_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace freshet {
namespace {

// Field order of AppEvents(), i.e. the index of each value in a Record.
enum Field { kUser = 0, kEvent, kDuration, kCount, kPremium, kSeenAt };

SourceSpec AppEvents() {
  SourceSpec s;
  s.name = "app_events";
  s.timestamp_field = "ts_ms";
  s.fields = {{"user_id", FieldType::kString},    {"event", FieldType::kString},
              {"duration_s", FieldType::kDouble}, {"count", FieldType::kInt64},
              {"premium", FieldType::kBool},      {"seen_at", FieldType::kTimestamp}};
  return s;
}

class RecordParserTest : public ::testing::Test {
 protected:
  RecordParser parser_{AppEvents(), {"user_id"}};
  std::vector<Record> out_;

  // Parses `body` into a non-empty `out_`, expecting the error `message` and `out_` emptied.
  void ExpectError(std::string_view body, const std::string& message) {
    out_.assign(1, Record{42, {}});
    Status st = parser_.Parse(body, &out_);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_EQ(st.message(), message);
    EXPECT_TRUE(out_.empty()) << "records were left despite the error";
  }
  // Like ExpectError for messages whose tail comes from simdjson.
  void ExpectErrorPrefix(std::string_view body, const std::string& prefix) {
    out_.clear();
    Status st = parser_.Parse(body, &out_);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_EQ(st.message().substr(0, prefix.size()), prefix) << st.message();
    EXPECT_GT(st.message().size(), prefix.size()) << "the JSON parser's reason is missing";
    EXPECT_TRUE(out_.empty());
  }
};

TEST_F(RecordParserTest, SingleObjectWithEveryType) {
  ASSERT_TRUE(parser_
                  .Parse(R"({"ts_ms": 1000, "user_id": "u1", "event": "start", "duration_s": 2.5,
                             "count": -3, "premium": true, "seen_at": 5, "unknown": {"x": [1]}})",
                         &out_)
                  .ok());
  ASSERT_EQ(out_.size(), 1u);
  const Record& r = out_[0];
  EXPECT_EQ(r.ts_ms, 1000);
  ASSERT_EQ(r.values.size(), 6u);
  EXPECT_EQ(r.values[kUser], Value::String("u1"));
  EXPECT_EQ(r.values[kEvent], Value::String("start"));
  EXPECT_EQ(r.values[kDuration], Value::Double(2.5));
  EXPECT_EQ(r.values[kCount], Value::Int(-3));
  EXPECT_TRUE(r.values[kCount].is_int());
  EXPECT_EQ(r.values[kPremium], Value::Bool(true));
  EXPECT_EQ(r.values[kSeenAt], Value::Int(5));
}

// Names of 1 to 20 bytes (compared bytewise, as two words, or bytewise beyond 16): a key that
// differs from a field's name in any one byte is an unknown field, whatever the key order.
TEST(RecordParserNamesTest, FieldNamesOfEveryLengthMatchOnlyExactly) {
  const std::string letters = "abcdefghijklmnopqrst";
  SourceSpec source;
  source.name = "names";
  source.timestamp_field = "ts";
  for (size_t n = 1; n <= letters.size(); ++n) {
    source.fields.push_back({letters.substr(0, n), FieldType::kInt64});
  }
  std::string near_misses, exact;
  for (size_t n = 1; n <= letters.size(); ++n) {
    for (size_t at : {size_t{0}, n / 2, n - 1}) {
      std::string key = letters.substr(0, n);
      key[at] = 'Z';
      near_misses += "\"" + key + "\": -1, ";
    }
    exact += ", \"" + letters.substr(0, n) + "\": " + std::to_string(n);
  }
  // Exact keys after the near misses, then before them: the second line's keys sit where the
  // first line's did not.
  std::string body = "{" + near_misses + "\"ts\": 1" + exact + "}\n{\"ts\": 2" + exact + ", " +
                     near_misses.substr(0, near_misses.size() - 2) + "}\n";
  RecordParser parser(source, {});
  std::vector<Record> out;
  Status st = parser.Parse(body, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out.size(), 2u);
  for (const Record& r : out) {
    for (size_t n = 1; n <= letters.size(); ++n) {
      EXPECT_EQ(r.values[n - 1], Value::Int(static_cast<int64_t>(n))) << "name of " << n;
    }
  }
}

TEST_F(RecordParserTest, AbsentAndNullOptionalFieldsAreNull) {
  ASSERT_TRUE(parser_.Parse(R"({"ts_ms": 1, "user_id": "u", "event": null})", &out_).ok());
  ASSERT_EQ(out_.size(), 1u);
  for (int f : {kEvent, kDuration, kCount, kPremium, kSeenAt}) {
    EXPECT_TRUE(out_[0].values[f].is_null()) << "field " << f;
  }
}

TEST_F(RecordParserTest, DoubleFieldTakesIntegersAndInt64TakesIntegralNumbers) {
  ASSERT_TRUE(
      parser_.Parse(R"({"ts_ms": 1, "user_id": "u", "duration_s": 3, "count": 4.0})", &out_).ok());
  EXPECT_TRUE(out_[0].values[kDuration].is_double());
  EXPECT_EQ(out_[0].values[kDuration].as_double(), 3.0);
  EXPECT_TRUE(out_[0].values[kCount].is_int());
  EXPECT_EQ(out_[0].values[kCount].as_int(), 4);
}

TEST_F(RecordParserTest, ArrayOfObjectsKeepsOrder) {
  ASSERT_TRUE(parser_
                  .Parse(R"([{"ts_ms": 1, "user_id": "a"}, {"ts_ms": 2, "user_id": "b"},
                             {"ts_ms": 3, "user_id": "c"}])",
                         &out_)
                  .ok());
  ASSERT_EQ(out_.size(), 3u);
  EXPECT_EQ(out_[0].values[kUser], Value::String("a"));
  EXPECT_EQ(out_[2].ts_ms, 3);
}

TEST_F(RecordParserTest, EmptyArrayIsNoRecords) {
  ASSERT_TRUE(parser_.Parse(" [ ] ", &out_).ok());
  EXPECT_TRUE(out_.empty());
}

TEST_F(RecordParserTest, NdjsonSkipsBlankLinesAndAcceptsCrLf) {
  ASSERT_TRUE(parser_
                  .Parse("{\"ts_ms\": 1, \"user_id\": \"a\"}\r\n\n   \n"
                         "{\"ts_ms\": 2, \"user_id\": \"b\"}\r\n{\"ts_ms\": 3, \"user_id\": \"c\"}",
                         &out_)
                  .ok());
  ASSERT_EQ(out_.size(), 3u);
  EXPECT_EQ(out_[1].values[kUser], Value::String("b"));
  EXPECT_EQ(out_[2].ts_ms, 3);
}

TEST_F(RecordParserTest, PrettyPrintedSingleObjectIsNotNdjson) {
  ASSERT_TRUE(parser_.Parse("{\n  \"ts_ms\": 7,\n  \"user_id\": \"a}{\"\n}\n\n", &out_).ok());
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].values[kUser], Value::String("a}{"));
}

TEST_F(RecordParserTest, ReplacesTheOutputReusingItsRecords) {
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "{\"ts_ms\": 2, \"user_id\": \"b\", \"event\": \"e\"}\n";
  ASSERT_TRUE(parser_.Parse(big, &out_).ok());
  ASSERT_EQ(out_.size(), 1000u);
  EXPECT_EQ(out_[500].values[kEvent], Value::String("e"));
  // The reused first record must not keep the earlier one's event.
  ASSERT_TRUE(parser_
                  .Parse(R"([{"ts_ms": 3, "user_id": "c"}, {"ts_ms": 4, "user_id": "d",
                                "event": "x"}])",
                         &out_)
                  .ok());
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].ts_ms, 3);
  EXPECT_EQ(out_[0].values[kUser], Value::String("c"));
  EXPECT_TRUE(out_[0].values[kEvent].is_null());
  EXPECT_EQ(out_[1].values[kEvent], Value::String("x"));
  // A failed parse leaves nothing behind.
  EXPECT_FALSE(parser_.Parse(R"({"ts_ms": 5})", &out_).ok());
  EXPECT_TRUE(out_.empty());
}

TEST_F(RecordParserTest, Rfc3339Timestamps) {
  ASSERT_TRUE(parser_
                  .Parse(R"({"ts_ms": "2026-01-01T00:00:00Z", "user_id": "a",
                             "seen_at": "2026-01-01T02:00:00.250+02:00"})",
                         &out_)
                  .ok());
  EXPECT_EQ(out_[0].ts_ms, 1767225600000);
  EXPECT_EQ(out_[0].values[kSeenAt], Value::Int(1767225600250));
}

TEST_F(RecordParserTest, TimestampFieldDeclaredInSchemaFillsItsSlot) {
  SourceSpec s = AppEvents();
  s.fields.push_back({"ts_ms", FieldType::kTimestamp});
  RecordParser parser(s, {});
  ASSERT_TRUE(parser.Parse(R"({"ts_ms": "1970-01-01T00:00:01Z"})", &out_).ok());
  EXPECT_EQ(out_[0].ts_ms, 1000);
  EXPECT_EQ(out_[0].values.back(), Value::Int(1000));
}

TEST_F(RecordParserTest, FractionalEpochMsIsTruncatedToTheMillisecond) {
  ASSERT_TRUE(parser_.Parse(R"({"ts_ms": 1000.75, "user_id": "a"})", &out_).ok());
  EXPECT_EQ(out_[0].ts_ms, 1000);
}

TEST_F(RecordParserTest, TypeErrorNamesLineFieldAndValue) {
  ExpectError(
      "{\"ts_ms\": 1, \"user_id\": \"a\"}\n{\"ts_ms\": 2, \"user_id\": \"b\"}\n"
      "{\"ts_ms\": 3, \"user_id\": \"c\", \"duration_s\": \"abc\"}\n",
      "line 3: field 'duration_s': expected double, got string \"abc\"");
}

TEST_F(RecordParserTest, LineNumbersCountBlankLines) {
  ExpectError("{\"ts_ms\": 1, \"user_id\": \"a\"}\n\n{\"ts_ms\": 2, \"user_id\": 5}\n",
              "line 3: field 'user_id': expected string, got number 5");
}

// NDJSON lines are parsed where they lie, with the following lines in simdjson's padding: what
// follows a line must never complete it.
TEST_F(RecordParserTest, NdjsonLineEndsAtItsNewline) {
  const std::string valid =
      "{\"ts_ms\": 2, \"user_id\": \"b\", \"event\": \"" + std::string(100, 'x') + "\"}\n";
  ExpectErrorPrefix("{\"ts_ms\": 1, \"user_id\": \"a\"\n}\n" + valid + valid,
                    "line 1: malformed JSON: ");
  ExpectErrorPrefix(valid + "{\"ts_ms\": 1, \"user_id\": \"a\", \"event\": \"x\n" + valid,
                    "line 2: malformed JSON: ");
  ASSERT_TRUE(parser_.Parse(valid + valid + valid, &out_).ok());
  ASSERT_EQ(out_.size(), 3u);
  EXPECT_EQ(out_[2].values[kEvent], Value::String(std::string(100, 'x')));
}

// NDJSON bodies longer than a few lines go through simdjson's document stream, which reads
// many lines at once. These bodies put what is tested among hundreds of good lines, so it lies
// in the streamed part: the result must be what parsing line by line gives.
std::string GoodLine(int i) {
  return "{\"ts_ms\": " + std::to_string(i) + ", \"user_id\": \"u" + std::to_string(i % 7) +
         "\", \"count\": " + std::to_string(i * 3) + "}\n";
}

std::string Lines(int first, int last) {
  std::string body;
  for (int i = first; i <= last; ++i) body += GoodLine(i);
  return body;
}

TEST_F(RecordParserTest, StreamedNdjsonMatchesLineByLine) {
  std::string body;
  std::vector<std::string> lines;
  for (int i = 0; i < 40000; ++i) {  // ~2.4 MB: the stream reads it in 1 MB batches
    std::string line = GoodLine(i);
    if (i % 5 == 1) line = "  " + line;  // leading space
    if (i % 11 == 3) line.insert(line.size() - 2, ", \"event\": \"e\\n}{\"");
    if (i % 7 == 2) line.insert(line.size() - 1, "\r");  // CRLF
    if (i % 13 == 4)
      line = "{\"premium\": true, \"ts_ms\": " + std::to_string(i) +
             ", \"user_id\": \"x\", \"duration_s\": 1e3}\n";
    body += line;
    if (i % 17 == 5) body += "\n \t\n";  // blank lines
    lines.push_back(line);
  }
  Status st = parser_.Parse(body, &out_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out_.size(), lines.size());
  std::vector<Record> one;
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(parser_.Parse(lines[i], &one).ok()) << lines[i];
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(out_[i].ts_ms, one[0].ts_ms) << "line " << i;
    EXPECT_EQ(out_[i].values, one[0].values) << "line " << i;
  }
  EXPECT_GT(body.size(), 2'000'000u);
  EXPECT_EQ(out_[3].values[kEvent], Value::String("e\n}{"));
  EXPECT_EQ(out_[4].values[kPremium], Value::Bool(true));
}

TEST_F(RecordParserTest, StreamedNdjsonErrorsNameTheirLine) {
  const std::string before = Lines(1, 299), after = Lines(301, 600);
  ExpectError(before + "{\"ts_ms\": 1, \"user_id\": \"a\", \"count\": \"x\"}\n" + after,
              "line 300: field 'count': expected int64, got string \"x\"");
  ExpectError(before + "{\"ts_ms\": 1}\n" + after,
              "line 300: field 'user_id': required but missing");
  ExpectError(before + "[1]\n" + after, "line 300: expected a JSON object");
  ExpectErrorPrefix(before + "{\"ts_ms\": 1, \"user_id\": }\n" + after,
                    "line 300: malformed JSON: ");
  // An unterminated string derails the whole stream, not just its line.
  ExpectErrorPrefix(before + "{\"ts_ms\": 1, \"user_id\": \"a}\n" + after,
                    "line 300: malformed JSON: ");
}

// A line holds one record: two objects on a line, or one across lines, are not NDJSON, though a
// stream of JSON documents would take them.
TEST_F(RecordParserTest, StreamedNdjsonKeepsOneRecordPerLine) {
  const std::string before = Lines(1, 299), after = Lines(301, 600);
  ExpectErrorPrefix(
      before + "{\"ts_ms\": 1, \"user_id\": \"a\"} {\"ts_ms\": 2, \"user_id\": \"b\"}\n" + after,
      "line 300: malformed JSON: ");
  ExpectErrorPrefix(before + "{\"ts_ms\": 1,\n \"user_id\": \"a\"}\n" + after,
                    "line 300: malformed JSON: ");
  // ... also when the object across lines is the last one the stream would read.
  ExpectErrorPrefix(before + "{\"ts_ms\": 1,\n \"user_id\": \"a\"}\n" + std::string(200, ' '),
                    "line 300: malformed JSON: ");
}

// A line longer than the stream's batch (1 MB) cannot be streamed: the body is still parsed.
TEST_F(RecordParserTest, NdjsonLineLongerThanTheStreamBatch) {
  const std::string event(1'500'000, 'e');
  std::string body = Lines(1, 100) + "{\"ts_ms\": 1, \"user_id\": \"a\", \"event\": \"" + event +
                     "\"}\n" + Lines(102, 200);
  ASSERT_TRUE(parser_.Parse(body, &out_).ok());
  ASSERT_EQ(out_.size(), 200u);
  EXPECT_EQ(out_[100].values[kEvent], Value::String(event));
  EXPECT_EQ(out_[199].ts_ms, 200);
}

TEST_F(RecordParserTest, Int64RejectsFractionsAndOutOfRange) {
  ExpectError(R"({"ts_ms": 1, "user_id": "a", "count": 3.5})",
              "record 1: field 'count': expected int64, got number 3.5");
  ExpectError(R"({"ts_ms": 1, "user_id": "a", "count": 18446744073709551615})",
              "record 1: field 'count': number 18446744073709551615 is out of range for int64");
  ExpectError(R"({"ts_ms": 1, "user_id": "a", "count": "7"})",
              "record 1: field 'count': expected int64, got string \"7\"");
}

TEST_F(RecordParserTest, BoolAndStringAreStrict) {
  ExpectError(R"([{"ts_ms": 1, "user_id": "a", "premium": "true"}])",
              "record 1: field 'premium': expected bool, got string \"true\"");
  ExpectError(R"([{"ts_ms": 1, "user_id": "a"}, {"ts_ms": 1, "user_id": "a", "event": {"k": 1}}])",
              "record 2: field 'event': expected string, got object");
  ExpectError(R"({"ts_ms": 1, "user_id": "a", "duration_s": [1]})",
              "record 1: field 'duration_s': expected double, got array");
}

TEST_F(RecordParserTest, LongStringsAreShortenedInErrors) {
  std::string body = R"({"ts_ms": 1, "user_id": "a", "count": ")" + std::string(100, 'z') + "\"}";
  ExpectError(body, "record 1: field 'count': expected int64, got string \"" +
                        std::string(40, 'z') + "...\"");
}

TEST_F(RecordParserTest, MissingOrBadTimestamp) {
  ExpectError(R"({"user_id": "a"})", "record 1: field 'ts_ms': required but missing");
  ExpectError(R"([{"ts_ms": 1, "user_id": "a"}, {"ts_ms": null, "user_id": "a"}])",
              "record 2: field 'ts_ms': required but null");
  ExpectError("{\"ts_ms\": 1, \"user_id\": \"a\"}\n{\"ts_ms\": \"yesterday\", \"user_id\": \"a\"}",
              "line 2: field 'ts_ms': expected a timestamp (epoch ms or RFC 3339 string), got "
              "string \"yesterday\"");
  ExpectError(R"({"ts_ms": true, "user_id": "a"})",
              "record 1: field 'ts_ms': expected a timestamp (epoch ms or RFC 3339 string), got "
              "bool true");
}

TEST_F(RecordParserTest, RequiredKeyFieldMissingOrNull) {
  ExpectError("{\"ts_ms\": 1, \"user_id\": \"a\"}\n{\"ts_ms\": 1}",
              "line 2: field 'user_id': required but missing");
  ExpectError(R"({"ts_ms": 1, "user_id": null})", "record 1: field 'user_id': required but null");
}

TEST_F(RecordParserTest, ErrorsCarryTheirPositionAsData) {
  ParseError error;
  Status st = parser_.ParseFileBlock(
      "{\"ts_ms\": 1, \"user_id\": \"a\"}\n{\"ts_ms\": 2, \"count\": 1.5, "
      "\"user_id\": \"a\"}\n",
      /*first_line=*/1001, &out_, &error);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(error.line, 1002u);
  EXPECT_EQ(error.record, 0u);
  EXPECT_EQ(error.field, "count");
  EXPECT_EQ(error.reason, "expected int64, got number 1.5");
  EXPECT_EQ(st.message(), "line 1002: field 'count': expected int64, got number 1.5");
  error.file = "events.ndjson";
  EXPECT_EQ(error.ToString(), "events.ndjson:1002: field 'count': expected int64, got number 1.5");

  // A lone object in a file is named by its line; in a request body, as record 1.
  st = parser_.ParseFileBlock("\n\n{\"ts_ms\": \"x\", \"user_id\": \"a\"}", 7, &out_, &error);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(error.line, 9u);
  EXPECT_EQ(error.field, "ts_ms");

  st = parser_.Parse(R"([{"ts_ms": 1, "user_id": "a"}, 5])", &out_, &error);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(error.line, 0u);
  EXPECT_EQ(error.record, 2u);
  EXPECT_EQ(error.field, "");
  EXPECT_EQ(error.reason, "expected a JSON object");

  st = parser_.Parse("  ", &out_, &error);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(error.line + error.record, 0u);
  EXPECT_EQ(error.ToString(), "empty body: expected a JSON object, array or NDJSON");
}

TEST_F(RecordParserTest, NonObjectElements) {
  ExpectError(R"([{"ts_ms": 1, "user_id": "a"}, 5])", "record 2: expected a JSON object");
  ExpectError("{\"ts_ms\": 1, \"user_id\": \"a\"}\n[1, 2]\n", "line 2: expected a JSON object");
  ExpectError("\"just a string\"", "record 1: expected a JSON object");
}

TEST_F(RecordParserTest, MalformedJson) {
  ExpectErrorPrefix("{\"ts_ms\": 1, \"user_id\": \"a\"}\n{\"ts_ms\": 2, \"user_id\": }\n",
                    "line 2: malformed JSON: ");
  ExpectErrorPrefix("{\"ts_ms\": 1, \"user_id\": \"a\"} trailing", "line 1: malformed JSON: ");
  ExpectErrorPrefix("{\"ts_ms\": 1, \"user_id\": \"a\"", "record 1: malformed JSON: ");
  ExpectErrorPrefix("[{\"ts_ms\": 1, \"user_id\": \"a\"},", "malformed JSON array: ");
  ExpectErrorPrefix("{\"ts_ms\": 1, \"user_id\": \"a\", \"unknown\": tru}",
                    "record 1: malformed JSON: ");
}

TEST_F(RecordParserTest, EmptyBody) {
  ExpectError("", "empty body: expected a JSON object, array or NDJSON");
  ExpectError(" \n\r\n\t", "empty body: expected a JSON object, array or NDJSON");
}

TEST_F(RecordParserTest, RequiredFieldMissingFromSchemaFailsEveryParse) {
  RecordParser parser(AppEvents(), {"device_id"});
  Status st = parser.Parse(R"({"ts_ms": 1, "device_id": "d"})", &out_);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "required field 'device_id' is not declared in source 'app_events'");
  EXPECT_TRUE(out_.empty());
}

FeatureViewSpec View(const std::string& name, const std::string& entity,
                     const std::string& source) {
  FeatureViewSpec view;
  view.name = name;
  view.entity = entity;
  view.source = source;
  return view;
}

TEST(RequiredFieldsTest, KeysOfEveryViewOnTheSourceOnce) {
  ProjectSpec spec;
  spec.entities["user"] = {"user", {"user_id"}};
  spec.entities["pair"] = {"pair", {"user_id", "item_id"}};
  spec.entities["device"] = {"device", {"device_id"}};
  spec.feature_views["a_user"] = View("a_user", "user", "app_events");
  spec.feature_views["b_pair"] = View("b_pair", "pair", "app_events");
  spec.feature_views["c_device"] = View("c_device", "device", "other");
  EXPECT_EQ(RequiredFields(spec, "app_events"), (std::vector<std::string>{"user_id", "item_id"}));
  EXPECT_EQ(RequiredFields(spec, "other"), (std::vector<std::string>{"device_id"}));
  EXPECT_TRUE(RequiredFields(spec, "unused").empty());
}

}  // namespace
}  // namespace freshet

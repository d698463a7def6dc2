#include "quality/expectation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "format/record_parser.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSpec[] = R"yaml(project: q
sources:
  app_events:
    timestamp: ts_ms
    fields: {user_id: string, event: string, category: string, duration_s: double, n: int64,
             ok: bool}
    expectations:
      duration_s: {between: [0, 86400], policy: reject}
      event: {in: [start, exit], policy: quarantine}
      user_id: {not_null: true, matches: "^u[0-9]+$", max_length: 6}
      category: {null_fraction_max: 0.5, policy: warn}
      n: {in: [1, 2, 3], policy: warn}
      ok: {in: [true], policy: quarantine}
)yaml";

class ExpectationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParseProject(kSpec, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
    expectations_ = std::make_unique<SourceExpectations>(spec_.sources.at("app_events"));
  }

  // Parses NDJSON lines and checks them.
  CheckResult Check(const std::string& body) {
    RecordParser parser(spec_.sources.at("app_events"), {});
    std::vector<Record> records;
    Status st = parser.Parse(body, &records);
    EXPECT_TRUE(st.ok()) << st.ToString();
    CheckResult result;
    expectations_->Check(records, &result);
    return result;
  }

  ProjectSpec spec_;
  std::unique_ptr<SourceExpectations> expectations_;
};

constexpr char kGood[] =
    R"({"ts_ms": 1, "user_id": "u1", "event": "start", "category": "a", "duration_s": 5, "n": 1, "ok": true})";

TEST_F(ExpectationTest, GoodRecordsPass) {
  CheckResult r = Check(std::string(kGood) + "\n" + kGood + "\n");
  EXPECT_TRUE(r.violations.empty());
  EXPECT_EQ(r.FirstReject(), nullptr);
  EXPECT_TRUE(r.quarantined.empty());
  EXPECT_EQ(r.warned, 0u);
}

TEST_F(ExpectationTest, BetweenIsInclusiveAndRejects) {
  CheckResult r = Check(
      R"({"ts_ms": 1, "category": "c", "user_id": "u1", "duration_s": 0}
{"ts_ms": 1, "category": "c", "user_id": "u1", "duration_s": 86400}
{"ts_ms": 1, "category": "c", "user_id": "u1", "duration_s": 86400.5}
{"ts_ms": 1, "category": "c", "user_id": "u1", "duration_s": -1})");
  ASSERT_EQ(r.violations.size(), 2u);
  const Violation* reject = r.FirstReject();
  ASSERT_NE(reject, nullptr);
  EXPECT_EQ(reject->record, 2u);
  EXPECT_EQ(reject->field, "duration_s");
  EXPECT_EQ(reject->kind, ExpectationKind::kBetween);
  EXPECT_EQ(reject->ToString(), "field 'duration_s': expectation between [0, 86400]: got 86400.5");
  EXPECT_EQ(r.violations[1].record, 3u);
}

TEST_F(ExpectationTest, NotNullMatchesAndMaxLengthRejectByDefault) {
  CheckResult r = Check(
      R"({"ts_ms": 1}
{"ts_ms": 1, "category": "c", "user_id": "bob"}
{"ts_ms": 1, "category": "c", "user_id": "u1234567"})");
  ASSERT_EQ(r.violations.size(), 3u);
  EXPECT_EQ(r.violations[0].kind, ExpectationKind::kNotNull);
  EXPECT_EQ(r.violations[0].message, "not_null: got null");
  EXPECT_EQ(r.violations[1].kind, ExpectationKind::kMatches);
  EXPECT_EQ(r.violations[1].message, "matches '^u[0-9]+$': got \"bob\"");
  EXPECT_EQ(r.violations[2].kind, ExpectationKind::kMaxLength);
  EXPECT_EQ(r.violations[2].message, "max_length 6: got 8 bytes");
  for (const Violation& v : r.violations) EXPECT_EQ(v.policy, ExpectationPolicy::kReject);
}

TEST_F(ExpectationTest, MatchesIsAFullMatch) {
  CheckResult r = Check(R"({"ts_ms": 1, "category": "c", "user_id": "xu12"})");
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].kind, ExpectationKind::kMatches);
}

TEST_F(ExpectationTest, InQuarantinesTheRecordsOnly) {
  CheckResult r = Check(
      R"({"ts_ms": 1, "category": "c", "user_id": "u1", "event": "exit"}
{"ts_ms": 1, "category": "c", "user_id": "u1", "event": "crash", "ok": false}
{"ts_ms": 1, "category": "c", "user_id": "u1", "event": "start"}
{"ts_ms": 1, "category": "c", "user_id": "u1", "ok": false})");
  EXPECT_EQ(r.FirstReject(), nullptr);
  EXPECT_THAT(r.quarantined, ElementsAre(1u, 3u));  // record 1 violates twice, counted once
  ASSERT_EQ(r.violations.size(), 3u);
  EXPECT_EQ(r.violations[0].message, "in [\"start\", \"exit\"]: got \"crash\"");
  EXPECT_EQ(r.violations[1].message, "in [true]: got false");
}

TEST_F(ExpectationTest, WarnOnlyCountsAndIntegerSetsCompareNumerically) {
  CheckResult r = Check(
      R"({"ts_ms": 1, "user_id": "u1", "n": 3, "category": "a"}
{"ts_ms": 1, "user_id": "u1", "n": 7, "category": "a"})");
  EXPECT_EQ(r.FirstReject(), nullptr);
  EXPECT_TRUE(r.quarantined.empty());
  EXPECT_EQ(r.warned, 1u);
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].message, "in [1, 2, 3]: got 7");
}

TEST_F(ExpectationTest, NullFractionIsPerBatch) {
  // Two of four null: 0.5 is allowed.
  CheckResult half = Check(
      R"({"ts_ms": 1, "user_id": "u1", "category": "a"}
{"ts_ms": 1, "user_id": "u1", "category": "a"}
{"ts_ms": 1, "user_id": "u1"}
{"ts_ms": 1, "user_id": "u1"})");
  EXPECT_TRUE(half.violations.empty());
  CheckResult most = Check(
      R"({"ts_ms": 1, "user_id": "u1", "category": "a"}
{"ts_ms": 1, "user_id": "u1"}
{"ts_ms": 1, "user_id": "u1"})");
  ASSERT_EQ(most.violations.size(), 1u);
  EXPECT_EQ(most.violations[0].record, Violation::kBatch);
  EXPECT_EQ(most.violations[0].kind, ExpectationKind::kNullFractionMax);
  EXPECT_EQ(most.violations[0].message, "null_fraction_max 0.5: 2 of 3 records are null");
  EXPECT_EQ(most.warned, 1u);
}

TEST_F(ExpectationTest, NullsPassEveryRecordExpectationButNotNull) {
  CheckResult r = Check(R"({"ts_ms": 1, "user_id": "u1", "category": "a"})");
  EXPECT_TRUE(r.violations.empty());
}

TEST_F(ExpectationTest, ASourceWithoutExpectationsIsEmpty) {
  SourceSpec plain;
  plain.fields.push_back({"x", FieldType::kString, 1});
  SourceExpectations none(plain);
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(expectations_->empty());
  CheckResult r;
  none.Check({Record{1, {Value::Null()}}}, &r);
  EXPECT_TRUE(r.violations.empty());
}

TEST(ExpectationKindTest, NamesRoundTrip) {
  for (ExpectationKind k : {ExpectationKind::kNotNull, ExpectationKind::kBetween,
                            ExpectationKind::kIn, ExpectationKind::kMatches,
                            ExpectationKind::kMaxLength, ExpectationKind::kNullFractionMax}) {
    ExpectationKind parsed;
    ASSERT_TRUE(ParseExpectationKind(ExpectationKindName(k), &parsed));
    EXPECT_EQ(parsed, k);
  }
  ExpectationKind unused;
  EXPECT_FALSE(ParseExpectationKind("unique", &unused));
}

}  // namespace
}  // namespace freshet

#include "quality/quality_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace freshet {
namespace {

using ::testing::HasSubstr;

TEST(QualityReportTest, CountsMergeAndRoundTripThroughJson) {
  CheckResult batch;
  batch.violations = {
      {0, "user_id", ExpectationKind::kMatches, ExpectationPolicy::kReject, "m"},
      {3, "user_id", ExpectationKind::kMatches, ExpectationPolicy::kReject, "m"},
      {Violation::kBatch, "category", ExpectationKind::kNullFractionMax, ExpectationPolicy::kWarn,
       "n"},
  };
  QualityReport report;
  report.Add("app_events", batch);
  QualityReport other;
  other.Add({"app_events", "event", ExpectationKind::kIn, ExpectationPolicy::kQuarantine}, 5);
  other.Add({"app_events", "user_id", ExpectationKind::kMatches, ExpectationPolicy::kReject}, 1);
  report.Merge(other);

  EXPECT_EQ(report.total(), 9u);
  EXPECT_EQ(report.Count(
                {"app_events", "user_id", ExpectationKind::kMatches, ExpectationPolicy::kReject}),
            3u);
  std::string json = report.ToJson();
  EXPECT_THAT(json, HasSubstr(R"({"source":"app_events","field":"event","expectation":"in",)"
                              R"("policy":"quarantine","count":5})"));
  auto back = QualityReport::FromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->counts(), report.counts());

  std::string text = report.ToText();
  EXPECT_THAT(text, HasSubstr("app_events  category  null_fraction_max  warn        1"));
  EXPECT_THAT(text, HasSubstr("9 violations in all"));
}

TEST(QualityReportTest, EmptyAndBadJson) {
  EXPECT_EQ(QualityReport().ToText(), "no violations\n");
  EXPECT_EQ(QualityReport().ToJson(), R"({"violations":[],"total":0})");
  EXPECT_FALSE(QualityReport::FromJson("{").ok());
  auto bad = QualityReport::FromJson(
      R"({"violations":[{"source":"s","field":"f","expectation":"unique","policy":"warn","count":1}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'s.f'"));
}

}  // namespace
}  // namespace freshet

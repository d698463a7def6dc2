#include "training/training_set.h"

#include <gtest/gtest.h>

#include <cmath>

#include "models/artifact_file.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::ScopedTempDir;
using testing::WriteFile;

TEST(SplitByTimeTest, LatestFractionWithTiesOnTheLaterSide) {
  // Sorted times: 1 2 3 3 3 5 6 8; the latest 25% starts at 6.
  const std::vector<int64_t> ts = {5, 1, 3, 8, 3, 2, 6, 3};
  Result<TimeSplit> split = SplitByTime(ts, {0.25, std::nullopt});
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(split->cut_ms, 6);
  EXPECT_EQ(split->later, (std::vector<size_t>{3, 6}));
  EXPECT_EQ(split->earlier, (std::vector<size_t>{0, 1, 2, 4, 5, 7}));
  // The latest half starts inside the run of 3s: all of them go to the later side.
  split = SplitByTime(ts, {0.5, std::nullopt});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->cut_ms, 3);
  EXPECT_EQ(split->earlier, (std::vector<size_t>{1, 5}));
  for (size_t i : split->later) EXPECT_GE(ts[i], 3);
}

TEST(SplitByTimeTest, FromTimestampAndEmptySides) {
  const std::vector<int64_t> ts = {10, 20, 30, 40};
  Result<TimeSplit> split = SplitByTime(ts, {0.2, 25});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->earlier, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(split->later, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(SplitByTime(ts, {0.2, 5}).status().code(), StatusCode::kFailedPrecondition);
  // All rows at one time cannot be split.
  EXPECT_EQ(SplitByTime({7, 7, 7}, {0.5, std::nullopt}).status().message(),
            "cannot split 3 rows by time at 7 ms: 0 rows before, 3 at or after (need both)");
}

TEST(TrainingSetTest, ReadsCellsAndWritesLabelRows) {
  ScopedTempDir dir("training_set_test");
  WriteFile(dir.File("set.csv"),
            "user_id,ts_ms,y,\"a,b\",flag\n"
            "\"u,1\",1000,1,2.5,true\n"
            "u2,2026-01-01T00:00:00Z,0,,false\n");
  Result<TrainingSet> set =
      ReadTrainingSet(dir.File("set.csv"), {{"a,b", "flag"}, "y", "ts_ms", ""});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->rows(), 2u);
  EXPECT_EQ(set->x[0], 2.5f);
  EXPECT_EQ(set->x[1], 1.0f);
  EXPECT_TRUE(std::isnan(set->x[2]));
  EXPECT_EQ(set->x[3], 0.0f);
  EXPECT_EQ(set->y, (std::vector<float>{1, 0}));
  EXPECT_EQ(set->ts_ms, (std::vector<int64_t>{1000, 1'767'225'600'000}));
  ASSERT_TRUE(WriteLabelRows(*set, {1, 0}, dir.File("holdout.csv")).ok());
  EXPECT_EQ(*ReadFileToString(dir.File("holdout.csv")),
            "user_id,ts_ms,y\nu2,2026-01-01T00:00:00Z,0\n\"u,1\",1000,1\n");
}

TEST(TrainingSetTest, BadCellsNameFileLineAndColumn) {
  ScopedTempDir dir("training_set_test");
  WriteFile(dir.File("set.csv"), "user_id,ts_ms,y,last\nu1,1000,1,3\nu2,2000,0,sleep\n");
  EXPECT_EQ(ReadTrainingSet(dir.File("set.csv"), {{"last"}, "y", "ts_ms", ""}).status().message(),
            dir.File("set.csv") +
                ":3: column 'last': 'sleep' is not a number (XGBoost takes numbers, booleans and "
                "nulls)");
  EXPECT_EQ(
      ReadTrainingSet(dir.File("set.csv"), {{"last"}, "label", "ts_ms", ""}).status().message(),
      dir.File("set.csv") + ": no label column 'label' (columns: user_id, ts_ms, y, last)");
  WriteFile(dir.File("empty_label.csv"), "user_id,ts_ms,y,n\nu1,1000,,3\n");
  EXPECT_EQ(
      ReadTrainingSet(dir.File("empty_label.csv"), {{"n"}, "y", "ts_ms", ""}).status().message(),
      dir.File("empty_label.csv") + ":2: column 'y': empty");
}

}  // namespace
}  // namespace freshet

#include "stream/quantile_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace freshet {
namespace {

constexpr double kAlpha = QuantileSketch::kRelativeAccuracy;
// The bound, with room for the rounding of log() at a bucket's edge.
constexpr double kBound = kAlpha * (1 + 1e-9);

// PostgreSQL's percentile_disc(q): the value of rank ceil(q n) (1-based), at least the first.
double ExactQuantile(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  double rank = std::ceil(q * static_cast<double>(sorted.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[index];
}

void ExpectWithinBound(const QuantileSketch& sketch, const std::vector<double>& values,
                       const char* what) {
  for (double q : {0.0, 0.001, 0.01, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    double exact = ExactQuantile(values, q);
    double estimate = sketch.Quantile(q);
    EXPECT_LE(std::abs(estimate - exact), kBound * std::abs(exact))
        << what << " q=" << q << " exact=" << exact << " estimate=" << estimate;
  }
}

std::string Encoded(const QuantileSketch& sketch) {
  std::string bytes;
  sketch.Encode(&bytes);
  return bytes;
}

// The documented bound, on data sets of very different shapes, against the exact quantiles.
TEST(QuantileSketchTest, EveryQuantileIsWithinTheRelativeBound) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> lognormal(0.0, 2.0);
  std::uniform_real_distribution<double> uniform(-1000.0, 1000.0);
  std::exponential_distribution<double> exponential(0.01);
  std::uniform_int_distribution<int> small_ints(-5, 5);
  struct Data {
    const char* name;
    std::vector<double> values;
  };
  std::vector<Data> sets = {{"lognormal", {}},
                            {"uniform with negatives", {}},
                            {"exponential", {}},
                            {"small ints with zeros", {}},
                            {"mixed magnitudes", {}}};
  for (int i = 0; i < 20'000; ++i) {
    sets[0].values.push_back(lognormal(rng));
    sets[1].values.push_back(uniform(rng));
    sets[2].values.push_back(exponential(rng));
    sets[3].values.push_back(small_ints(rng));
    double sign = i % 3 == 0 ? -1 : 1;
    sets[4].values.push_back(sign * std::pow(10.0, static_cast<double>(i % 25) - 12) *
                             (1 + static_cast<double>(i % 7)));
  }
  for (const Data& data : sets) {
    QuantileSketch sketch;
    for (double x : data.values) sketch.Add(x);
    EXPECT_EQ(sketch.count(), static_cast<int64_t>(data.values.size()));
    ExpectWithinBound(sketch, data.values, data.name);
  }
}

TEST(QuantileSketchTest, SmallInputs) {
  QuantileSketch one;
  one.Add(42);
  EXPECT_NEAR(one.Quantile(0.5), 42, 42 * kBound);
  EXPECT_NEAR(one.Quantile(0.0), 42, 42 * kBound);

  QuantileSketch zeros;
  for (int i = 0; i < 3; ++i) zeros.Add(0);
  zeros.Add(-0.0);
  EXPECT_EQ(zeros.Quantile(0.9), 0);

  // percentile_disc: of 1, 2, 3, 4 the median is 2 and q = 0.76 is 4.
  QuantileSketch four;
  for (double x : {4.0, 1.0, 3.0, 2.0}) four.Add(x);
  EXPECT_NEAR(four.Quantile(0.5), 2, 2 * kBound);
  EXPECT_NEAR(four.Quantile(0.76), 4, 4 * kBound);
  EXPECT_NEAR(four.Quantile(0.25), 1, kBound);

  QuantileSketch negative;
  for (double x : {-10.0, -20.0, -30.0}) negative.Add(x);
  EXPECT_NEAR(negative.Quantile(0.1), -30, 30 * kBound);
  EXPECT_NEAR(negative.Quantile(1.0), -10, 10 * kBound);
}

TEST(QuantileSketchTest, ExtremeValuesStayInRange) {
  QuantileSketch sketch;
  const double max = std::numeric_limits<double>::max();
  sketch.Add(std::numeric_limits<double>::quiet_NaN());  // not added
  EXPECT_TRUE(sketch.empty());
  sketch.Add(std::numeric_limits<double>::infinity());
  sketch.Add(-std::numeric_limits<double>::infinity());
  sketch.Add(max);
  sketch.Add(std::numeric_limits<double>::denorm_min());  // counts as zero
  sketch.Add(std::numeric_limits<double>::min());
  EXPECT_EQ(sketch.count(), 5);
  EXPECT_NEAR(sketch.Quantile(0) / max, -1, kBound);
  EXPECT_EQ(sketch.Quantile(0.4), 0);
  EXPECT_NEAR(sketch.Quantile(0.6), std::numeric_limits<double>::min(),
              std::numeric_limits<double>::min() * kBound);
  EXPECT_NEAR(sketch.Quantile(1) / max, 1, kBound);
  EXPECT_TRUE(std::isfinite(sketch.Quantile(0.99)));
}

// Merging is adding bucket counts: any split, merged in any order, is the same sketch.
TEST(QuantileSketchTest, MergeOfPartsEqualsOneSketch) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(50.0, 80.0);
  QuantileSketch whole;
  std::vector<QuantileSketch> parts(5);
  std::vector<double> values;
  for (int i = 0; i < 5000; ++i) {
    double x = i % 11 == 0 ? 0.0 : normal(rng);
    values.push_back(x);
    whole.Add(x);
    parts[rng() % parts.size()].Add(x);
  }
  QuantileSketch merged;
  for (int i : {3, 0, 4, 1, 2}) merged.Merge(parts[static_cast<size_t>(i)]);
  EXPECT_EQ(Encoded(merged), Encoded(whole));
  EXPECT_EQ(merged.count(), whole.count());
  ExpectWithinBound(merged, values, "merged");
}

TEST(QuantileSketchTest, EncodeDecodeRoundTrip) {
  QuantileSketch sketch;
  for (double x : {-5.5, -5.5, 0.0, 0.001, 3.0, 1e9, 1e9}) sketch.Add(x);
  std::string bytes = Encoded(sketch);
  byte_codec::ByteReader in(bytes);
  QuantileSketch copy;
  ASSERT_TRUE(copy.Decode(&in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(copy.count(), sketch.count());
  EXPECT_EQ(Encoded(copy), bytes);
  for (double q : {0.1, 0.3, 0.5, 0.9}) EXPECT_EQ(copy.Quantile(q), sketch.Quantile(q));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    byte_codec::ByteReader truncated(std::string_view(bytes).substr(0, cut));
    QuantileSketch bad;
    EXPECT_FALSE(bad.Decode(&truncated) && truncated.empty()) << "cut at " << cut;
  }
}

// Zero count, then the negative buckets, then the positive ones.
std::string Sketch(uint64_t zeros, std::vector<std::pair<int64_t, uint64_t>> positive) {
  std::string bytes;
  byte_codec::PutVarint(&bytes, zeros);
  byte_codec::PutVarint(&bytes, 0);
  byte_codec::PutVarint(&bytes, positive.size());
  for (size_t i = 0; i < positive.size(); ++i) {
    if (i == 0) {
      byte_codec::PutSigned(&bytes, positive[i].first);
    } else {
      byte_codec::PutVarint(&bytes,
                            static_cast<uint64_t>(positive[i].first - positive[i - 1].first));
    }
    byte_codec::PutVarint(&bytes, positive[i].second);
  }
  return bytes;
}

bool Decodes(const std::string& bytes) {
  byte_codec::ByteReader in(bytes);
  QuantileSketch sketch;
  if (!sketch.Decode(&in)) return false;
  sketch.Merge(sketch);
  sketch.Add(1.5);
  return std::isfinite(sketch.Quantile(0.5));
}

TEST(QuantileSketchTest, DecodeRejectsCorruptBuckets) {
  EXPECT_TRUE(Decodes(Sketch(1, {{-3, 2}, {10, 1}, {35'000, 4}})));
  EXPECT_FALSE(Decodes(Sketch(1, {{-3, 0}})));          // an empty bucket
  EXPECT_FALSE(Decodes(Sketch(0, {{4, 1}, {4, 1}})));   // not ascending
  EXPECT_FALSE(Decodes(Sketch(0, {{1'000'000, 1}})));   // beyond the largest double
  EXPECT_FALSE(Decodes(Sketch(0, {{-1'000'000, 1}})));  // below the smallest
  EXPECT_FALSE(Decodes(Sketch(0, {{35'000, 1}, {99'000, 1}})));
  EXPECT_FALSE(Decodes(Sketch(uint64_t{1} << 63, {})));  // counts are int64
  EXPECT_FALSE(Decodes(Sketch(0, {{1, uint64_t{1} << 63}})));
  std::string many;  // more buckets than bytes
  byte_codec::PutVarint(&many, 0);
  byte_codec::PutVarint(&many, 1'000'000);
  EXPECT_FALSE(Decodes(many));
}

TEST(QuantileSketchTest, MemoryGrowsWithTheRangeNotTheCount) {
  QuantileSketch sketch;
  for (int i = 0; i < 100'000; ++i) sketch.Add(100 + i % 10);
  EXPECT_LT(sketch.MemoryBytes(), 1024u);
}

}  // namespace
}  // namespace freshet

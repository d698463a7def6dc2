#include "stream/accumulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "stream/hyperloglog.h"
#include "stream/value_ops.h"

namespace freshet {
namespace {

struct AggCase {
  AggKind kind;
  int n;
  bool approx;
  bool int_input;
  double q = 0;
};

const AggCase kAll[] = {
    {AggKind::kCount, 0, false, false},
    {AggKind::kSum, 0, false, false},
    {AggKind::kSum, 0, false, true},
    {AggKind::kMean, 0, false, false},
    {AggKind::kMin, 0, false, false},
    {AggKind::kMax, 0, false, true},
    {AggKind::kVariance, 0, false, false},
    {AggKind::kStddev, 0, false, false},
    {AggKind::kFirst, 0, false, false},
    {AggKind::kLast, 0, false, false},
    {AggKind::kLastN, 3, false, false},
    {AggKind::kDistinctCount, 0, false, false},
    {AggKind::kDistinctCount, 0, true, false},
    {AggKind::kTopK, 2, false, false},
    {AggKind::kRate, 0, false, false},
    {AggKind::kTrend, 0, false, false},
    {AggKind::kTrend, 0, false, true},
    {AggKind::kApproxPercentile, 0, false, false, 0.5},
    {AggKind::kApproxPercentile, 0, false, true, 0.9},
};

Value Input(const AggCase& c, uint32_t x) {
  if (c.int_input) return Value::Int(static_cast<int64_t>(x % 20) - 5);
  return Value::Double(static_cast<double>(x % 40) / 4.0);
}

bool Close(const Value& a, const Value& b) {
  if (a.is_double() && b.is_double()) {
    return std::abs(a.as_double() - b.as_double()) <= 1e-9 * std::max(1.0, std::abs(a.as_double()));
  }
  if (a.is_list() && b.is_list()) {
    if (a.as_list().size() != b.as_list().size()) return false;
    for (size_t i = 0; i < a.as_list().size(); ++i) {
      if (!Close(a.as_list()[i], b.as_list()[i])) return false;
    }
    return true;
  }
  return a == b;
}

// Any split of the events into accumulators, merged in any order, equals adding them all to
// one: what lets tiles and sessions be combined.
TEST(AggregationTest, MergeOfPartsEqualsOneAccumulator) {
  std::mt19937 rng(5);
  for (const AggCase& c : kAll) {
    Aggregation agg(c.kind, c.n, c.approx, c.int_input, c.q);
    Acc whole = agg.NewAcc();
    std::vector<Acc> parts(4, agg.NewAcc());
    for (uint64_t seq = 0; seq < 200; ++seq) {
      Value v = Input(c, rng());
      int64_t ts = static_cast<int64_t>(rng() % 50);  // many ties
      agg.Add(&whole, v, ts, seq);
      agg.Add(&parts[rng() % parts.size()], v, ts, seq);
    }
    Acc merged = agg.NewAcc();
    for (int i : {2, 0, 3, 1}) agg.Merge(&merged, parts[i]);
    Value expected = agg.Result(whole, 60'000);
    EXPECT_TRUE(Close(agg.Result(merged, 60'000), expected))
        << AggKindName(c.kind) << ": " << agg.Result(merged, 60'000).ToString() << " vs "
        << expected.ToString();
  }
}

TEST(AggregationTest, EncodeDecodeRoundTrip) {
  std::mt19937 rng(6);
  for (const AggCase& c : kAll) {
    Aggregation agg(c.kind, c.n, c.approx, c.int_input, c.q);
    Acc acc = agg.NewAcc();
    for (uint64_t seq = 0; seq < 50; ++seq)
      agg.Add(&acc, Input(c, rng()), static_cast<int64_t>(seq), seq);
    std::string bytes;
    agg.Encode(acc, &bytes);
    byte_codec::ByteReader in(bytes);
    Acc copy;
    ASSERT_TRUE(agg.Decode(&in, &copy)) << AggKindName(c.kind);
    EXPECT_TRUE(in.empty());
    EXPECT_TRUE(Close(agg.Result(copy, 1000), agg.Result(acc, 1000))) << AggKindName(c.kind);
    byte_codec::ByteReader truncated(std::string_view(bytes).substr(0, bytes.size() - 1));
    if (!bytes.empty() && c.kind != AggKind::kCount && c.kind != AggKind::kRate) {
      Acc bad;
      EXPECT_FALSE(agg.Decode(&truncated, &bad) && truncated.empty()) << AggKindName(c.kind);
    }
  }
}

TEST(AggregationTest, EmptyResults) {
  for (const AggCase& c : kAll) {
    Aggregation agg(c.kind, c.n, c.approx, c.int_input, c.q);
    Value v = agg.Result(agg.NewAcc(), 1000);
    switch (c.kind) {
      case AggKind::kCount:
      case AggKind::kSum:
      case AggKind::kRate:
      case AggKind::kDistinctCount:
        EXPECT_TRUE(v.is_number() && v.to_double() == 0) << AggKindName(c.kind);
        break;
      case AggKind::kLastN:
      case AggKind::kTopK:
        EXPECT_TRUE(v.is_list() && v.as_list().empty());
        break;
      default:
        EXPECT_TRUE(v.is_null()) << AggKindName(c.kind);
    }
  }
}

TEST(AggregationTest, SampleVarianceAndStddev) {
  Aggregation var(AggKind::kVariance, 0, false, false);
  Aggregation sd(AggKind::kStddev, 0, false, false);
  Acc a = var.NewAcc();
  for (double x : {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}) var.Add(&a, Value::Double(x), 0, 0);
  EXPECT_NEAR(var.Result(a, 1).as_double(), 32.0 / 7.0, 1e-12);
  EXPECT_NEAR(sd.Result(a, 1).as_double(), std::sqrt(32.0 / 7.0), 1e-12);
  Acc one = var.NewAcc();
  var.Add(&one, Value::Double(1), 0, 0);
  EXPECT_TRUE(var.Result(one, 1).is_null());
}

TEST(AggregationTest, IntSumsStayExactAndSaturate) {
  Aggregation sum(AggKind::kSum, 0, false, true);
  Acc a = sum.NewAcc();
  sum.Add(&a, Value::Int(int64_t{1} << 60), 0, 0);
  sum.Add(&a, Value::Int(1), 0, 1);
  EXPECT_EQ(sum.Result(a, 1), Value::Int((int64_t{1} << 60) + 1));
  sum.Add(&a, Value::Int(INT64_MAX), 0, 2);
  EXPECT_EQ(sum.Result(a, 1), Value::Int(INT64_MAX));
}

TEST(AggregationTest, RateDividesBySpanSeconds) {
  Aggregation rate(AggKind::kRate, 0, false, false);
  Acc a = rate.NewAcc();
  for (int i = 0; i < 6; ++i) rate.Add(&a, Value(), i, static_cast<uint64_t>(i));
  EXPECT_DOUBLE_EQ(rate.Result(a, 60'000).as_double(), 0.1);
}

// x = 3 t + 5 (t in seconds) at epoch-sized times: the slope is 3 per second.
TEST(AggregationTest, TrendIsTheSlopePerSecond) {
  Aggregation trend(AggKind::kTrend, 0, false, false);
  Acc a = trend.NewAcc();
  const int64_t t0 = 1'767'225'600'000;
  for (int i = 0; i < 10; ++i) {
    trend.Add(&a, Value::Double(3.0 * i + 5), t0 + 1000 * i, static_cast<uint64_t>(i));
  }
  EXPECT_NEAR(trend.Result(a, 1).as_double(), 3.0, 1e-12);
  // Least squares through (0, 1), (1, 3), (2, 2): slope 0.5.
  Acc b = trend.NewAcc();
  trend.Add(&b, Value::Int(1), t0, 0);
  trend.Add(&b, Value::Int(3), t0 + 1000, 1);
  trend.Add(&b, Value::Int(2), t0 + 2000, 2);
  EXPECT_NEAR(trend.Result(b, 1).as_double(), 0.5, 1e-12);
}

TEST(AggregationTest, TrendIsNullBelowTwoEventsOrWithoutTimeSpread) {
  Aggregation trend(AggKind::kTrend, 0, false, false);
  Acc a = trend.NewAcc();
  trend.Add(&a, Value::Double(1), 5000, 0);
  EXPECT_TRUE(trend.Result(a, 1).is_null());
  trend.Add(&a, Value::Double(9), 5000, 1);
  EXPECT_TRUE(trend.Result(a, 1).is_null());
  Acc same_time = trend.NewAcc();
  trend.Add(&same_time, Value::Double(4), 5000, 2);
  trend.Merge(&a, same_time);
  EXPECT_TRUE(trend.Result(a, 1).is_null());
  trend.Add(&a, Value::Double(4), 6000, 3);
  EXPECT_FALSE(trend.Result(a, 1).is_null());
}

// Events a millisecond apart, far from the epoch, with a large offset in the values: sums of
// t, t^2 and t x from epoch seconds would cancel catastrophically; the co-moments about an
// origin in the accumulator keep the slope to ~1e-9, also across tiles with other origins.
TEST(AggregationTest, TrendKeepsPrecisionFarFromTheEpoch) {
  Aggregation trend(AggKind::kTrend, 0, false, false);
  const int64_t t0 = 1'767'225'600'000;
  Acc whole = trend.NewAcc();
  std::vector<Acc> tiles(4, trend.NewAcc());
  std::mt19937 rng(11);
  for (int i = 0; i < 400; ++i) {
    double noise = static_cast<double>(rng() % 1000) * 1e-6;
    Value x = Value::Double(1e6 + 0.25 * i + noise);  // 0.25 per ms: 250 per second
    trend.Add(&whole, x, t0 + i, static_cast<uint64_t>(i));
    trend.Add(&tiles[static_cast<size_t>(i / 100)], x, t0 + i, static_cast<uint64_t>(i));
  }
  double slope = trend.Result(whole, 1).as_double();
  EXPECT_NEAR(slope, 250.0, 0.01);
  Acc merged = trend.NewAcc();
  for (int i : {3, 1, 0, 2}) trend.Merge(&merged, tiles[static_cast<size_t>(i)]);
  EXPECT_NEAR(trend.Result(merged, 1).as_double(), slope, 1e-9 * slope);
}

TEST(AggregationTest, ApproxPercentileReadsItsQuantile) {
  Aggregation p90(AggKind::kApproxPercentile, 0, false, true, 0.9);
  Aggregation p10(AggKind::kApproxPercentile, 0, false, true, 0.1);
  Acc a = p90.NewAcc();
  for (int i = 1; i <= 100; ++i) p90.Add(&a, Value::Int(i), i, static_cast<uint64_t>(i));
  EXPECT_NEAR(p90.Result(a, 1).as_double(), 90, 0.9);
  EXPECT_NEAR(p10.Result(a, 1).as_double(), 10, 0.1);
  EXPECT_TRUE(p90.Result(p90.NewAcc(), 1).is_null());
}

TEST(ValueOpsTest, HashAndOrderTreatEqualNumbersAlike) {
  EXPECT_EQ(HashValue(Value::Int(3)), HashValue(Value::Double(3.0)));
  EXPECT_NE(HashValue(Value::Int(3)), HashValue(Value::String("3")));
  EXPECT_NE(HashValue(Value::Double(3.5)), HashValue(Value::Int(3)));
  EXPECT_EQ(CompareValues(Value::Int(3), Value::Double(3.0)), 0);
  EXPECT_LT(CompareValues(Value(), Value::Bool(false)), 0);
  EXPECT_LT(CompareValues(Value::Bool(true), Value::Int(-100)), 0);
  EXPECT_LT(CompareValues(Value::Double(1e9), Value::String("")), 0);
  EXPECT_LT(CompareValues(Value::String("ab"), Value::String("b")), 0);
  EXPECT_NE(HashBytes("abc"), HashBytes("abd"));
  EXPECT_NE(HashBytes("abcdefgh1"), HashBytes("abcdefgh2"));
}

TEST(HyperLogLogTest, EstimatesWithinTwoPercent) {
  for (int n : {10, 100, 1000, 10'000, 100'000, 1'000'000}) {
    HyperLogLog hll;
    for (int i = 0; i < n; ++i) hll.Add(HashValue(Value::Int(i)));
    for (int i = 0; i < n; i += 3) hll.Add(HashValue(Value::Int(i)));  // repeats change nothing
    EXPECT_NEAR(hll.Estimate(), n, std::max(1.0, 0.02 * n)) << "n=" << n;
  }
  EXPECT_EQ(HyperLogLog().Estimate(), 0.0);
}

TEST(HyperLogLogTest, MergeEqualsUnionAndStaysSmallWhileSparse) {
  HyperLogLog a, b, all;
  for (int i = 0; i < 30'000; ++i) {
    uint64_t h = HashValue(Value::String("v" + std::to_string(i)));
    (i % 2 ? a : b).Add(h);
    all.Add(h);
  }
  HyperLogLog merged = a;
  merged.Merge(b);
  EXPECT_DOUBLE_EQ(merged.Estimate(), all.Estimate());

  HyperLogLog small;
  for (int i = 0; i < 50; ++i) small.Add(HashValue(Value::Int(i)));
  EXPECT_LT(small.MemoryBytes(), 1024u);
  HyperLogLog sparse_into_dense = all;
  sparse_into_dense.Merge(small);
  EXPECT_GE(sparse_into_dense.Estimate(), all.Estimate());
}

TEST(HyperLogLogTest, EncodeDecodeSparseAndDense) {
  for (int n : {20, 50'000}) {
    HyperLogLog hll;
    for (int i = 0; i < n; ++i) hll.Add(HashValue(Value::Int(i)));
    std::string bytes;
    hll.Encode(&bytes);
    byte_codec::ByteReader in(bytes);
    HyperLogLog copy;
    ASSERT_TRUE(copy.Decode(&in));
    EXPECT_TRUE(in.empty());
    EXPECT_DOUBLE_EQ(copy.Estimate(), hll.Estimate());
    byte_codec::ByteReader bad(std::string_view(bytes).substr(0, bytes.size() / 2));
    EXPECT_FALSE(HyperLogLog().Decode(&bad));
  }
}

// A sparse sketch of `entries` (index << 8 | rank), delta-encoded as Encode writes them.
std::string SparseSketch(std::initializer_list<uint64_t> entries) {
  std::string bytes(1, '\0');
  byte_codec::PutVarint(&bytes, entries.size());
  uint64_t prev = 0;
  for (uint64_t e : entries) {
    byte_codec::PutVarint(&bytes, e - prev);
    prev = e;
  }
  return bytes;
}

bool DecodesAndMerges(const std::string& bytes) {
  byte_codec::ByteReader in(bytes);
  HyperLogLog hll;
  if (!hll.Decode(&in)) return false;
  HyperLogLog dense;
  for (int i = 0; i < 5000; ++i) dense.Add(HashValue(Value::Int(i)));
  hll.Merge(dense);  // turns the sketch dense: every register index is used
  return hll.Estimate() > 0;
}

TEST(HyperLogLogTest, DecodeRejectsSparseEntriesOutsideTheSketch) {
  EXPECT_TRUE(DecodesAndMerges(SparseSketch({1 << 8 | 3, 16383 << 8 | 51})));
  // Register 16384 does not exist: ToDense wrote past its 16 KiB buffer.
  EXPECT_FALSE(DecodesAndMerges(SparseSketch({16384u << 8 | 1})));
  EXPECT_FALSE(DecodesAndMerges(SparseSketch({0xffffff01u})));
  // Rank 0 is no entry; ranks above 51 overran Estimate's histogram.
  EXPECT_FALSE(DecodesAndMerges(SparseSketch({5 << 8 | 0})));
  EXPECT_FALSE(DecodesAndMerges(SparseSketch({5 << 8 | 52})));
  EXPECT_FALSE(DecodesAndMerges(SparseSketch({5 << 8 | 0xff})));
  // One entry per register, in register order.
  EXPECT_FALSE(DecodesAndMerges(SparseSketch({5 << 8 | 1, 5 << 8 | 2})));
  // A delta that does not fit the 32-bit entry.
  std::string wide(1, '\0');
  byte_codec::PutVarint(&wide, 1);
  byte_codec::PutVarint(&wide, uint64_t{1} << 40 | 1);
  EXPECT_FALSE(DecodesAndMerges(wide));
}

TEST(AccumulatorTest, DecodeRejectsCountsBeyondInt64) {
  for (AggKind kind : {AggKind::kCount, AggKind::kMean}) {
    Aggregation agg(kind, 0, false, false);
    std::string bytes;
    byte_codec::PutVarint(&bytes, uint64_t{1} << 63);
    byte_codec::PutDouble(&bytes, 0);
    byte_codec::PutDouble(&bytes, 0);
    byte_codec::ByteReader in(bytes);
    Acc acc;
    EXPECT_FALSE(agg.Decode(&in, &acc)) << AggKindName(kind);
  }
  // A count at INT64_MAX saturates instead of overflowing when it grows.
  Aggregation count(AggKind::kCount, 0, false, false);
  std::string bytes;
  byte_codec::PutVarint(&bytes, static_cast<uint64_t>(INT64_MAX));
  byte_codec::ByteReader in(bytes);
  Acc acc;
  ASSERT_TRUE(count.Decode(&in, &acc));
  count.Add(&acc, Value(), 0, 0);
  count.Merge(&acc, acc);
  EXPECT_EQ(count.Result(acc, 1000), Value::Int(INT64_MAX));
}

}  // namespace
}  // namespace freshet

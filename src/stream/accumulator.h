// Accumulators: the running summary of one aggregation over a set of events, and Aggregation,
// the stateless operations on them (add an event, merge two summaries, produce the value,
// encode). Every window kind reduces to these: a sliding window adds its raw events into a fresh
// accumulator at read time, tiles (hopping, tumbling), sessions and lifetimes keep accumulators
// and merge them. All accumulators are mergeable, so results do not depend on how events were
// split into tiles.
//
// Results over no events: count, sum, rate and distinct_count give 0; last_n and top_k give an
// empty list; every other aggregation gives null. Nulls are never added (the caller skips a
// null input, as SQL aggregates do). variance and stddev are the SAMPLE statistics (n - 1, as
// PostgreSQL's variance/stddev), null below two values; moments use Welford's update and
// Chan's merge. trend is the least-squares slope of the value against event time in seconds,
// null below two events or when all events share one time; it keeps co-moments about the means
// (Welford/Chan in two variables), with times relative to an origin in the accumulator so that
// epoch-sized times lose no precision. approx_percentile reads a quantile from a DDSketch
// (quantile_sketch.h, 1% relative error). first/last order events by event time; ties go to
// the later arrival (`seq`).
// Thread-safety: Aggregation is immutable; an Acc is a value guarded by its owner.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/byte_codec.h"
#include "core/value.h"
#include "spec/project_spec.h"
#include "stream/hyperloglog.h"
#include "stream/quantile_sketch.h"

namespace freshet {

// A value with its event time and arrival sequence, for first/last/last_n.
struct StampedValue {
  int64_t ts = 0;
  uint64_t seq = 0;
  Value v;
};

struct CountAcc {
  int64_t n = 0;
};  // count, rate
struct SumAcc {
  double d = 0;
  int64_t i = 0;
};  // int inputs sum exactly in i
struct MomentsAcc {
  int64_t n = 0;
  double mean = 0;
  double m2 = 0;
};  // mean, variance, stddev
struct ExtremeAcc {
  Value v;
};  // min, max (null: nothing yet)
struct EdgeAcc {
  StampedValue best;
};  // first, last (best.v null: nothing yet)
struct LastNAcc {
  std::vector<StampedValue> items;
};  // oldest first, at most n
struct DistinctAcc {
  std::vector<uint64_t> hashes;
};  // sorted HashValue()s
struct HllAcc {
  HyperLogLog hll;
};
struct TopCount {
  uint64_t hash = 0;
  int64_t count = 0;
  Value v;
};
struct TopKAcc {
  std::vector<TopCount> counts;
};  // sorted by hash

// trend: times t are seconds since origin_ms (the first event's time); m2_t = sum (t - mean_t)^2,
// c_tx = sum (t - mean_t)(x - mean_x). Central moments do not change with the origin, so merging
// only shifts the other side's mean_t.
struct TrendAcc {
  int64_t origin_ms = 0;
  int64_t n = 0;
  double mean_t = 0;
  double mean_x = 0;
  double m2_t = 0;
  double c_tx = 0;
};
struct SketchAcc {
  QuantileSketch sketch;
};  // approx_percentile

using Acc = std::variant<CountAcc, SumAcc, MomentsAcc, ExtremeAcc, EdgeAcc, LastNAcc, DistinctAcc,
                         HllAcc, TopKAcc, TrendAcc, SketchAcc>;
// States hold Acc values inline (each list's first tile): trend and approx_percentile must not
// make every Acc larger than first/last's accumulator does.
static_assert(sizeof(TrendAcc) <= sizeof(EdgeAcc) && sizeof(SketchAcc) <= sizeof(EdgeAcc));

class Aggregation {
 public:
  // `n`: last_n's n or top_k's k. `int_input`: the input field is int64 (sum stays integral).
  // `q`: approx_percentile's quantile, in (0, 1).
  Aggregation(AggKind kind, int n, bool approx, bool int_input, double q = 0);

  AggKind kind() const { return kind_; }
  Acc NewAcc() const;
  // Adds one event's value (ignored by count and rate). REQUIRES: v is not null unless the
  // aggregation counts events.
  void Add(Acc* acc, const Value& v, int64_t ts, uint64_t seq) const;
  void Merge(Acc* into, const Acc& from) const;
  // The feature value. `span_ms` (> 0) is what rate divides by.
  Value Result(const Acc& acc, int64_t span_ms) const;
  size_t MemoryBytes(const Acc& acc) const;

  void Encode(const Acc& acc, std::string* out) const;
  bool Decode(byte_codec::ByteReader* in, Acc* acc) const;

 private:
  AggKind kind_;
  int n_;
  bool approx_;
  bool int_input_;
  double q_;
};

}  // namespace freshet

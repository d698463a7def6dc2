// QuantileSketch: approximate quantiles of a stream of numbers in mergeable state, for
// `approx_percentile`. A DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable
// quantile sketch with relative-error guarantees", VLDB 2019) with relative accuracy
// alpha = 0.01: the value reported for a quantile is within 1% (relative) of the exact value
// of that rank, for every input distribution and any number of values.
//
// A positive value x goes to bucket i = ceil(log_gamma(x)), gamma = (1 + alpha) / (1 - alpha),
// which covers (gamma^(i-1), gamma^i]; a bucket reports 2 gamma^i / (gamma + 1), within alpha of
// everything it covers. Negative values use a second set of buckets by magnitude; zeros (and
// magnitudes below the smallest normal double, ~2.2e-308) are counted apart and reported as 0.
// Infinities count in the bucket of the largest finite double; NaN is not added. Buckets are
// kept sparse (only non-empty ones, sorted by index): memory grows with the range of the values,
// not their number — about 116 buckets per factor of 10 between the smallest and largest
// magnitude, 16 bytes each, at most ~71K per sign over the whole double range. No bucket is
// ever collapsed, so the bound always holds.
//
// Bucket counts add on merge, so a sketch does not depend on how its values were split or
// ordered: merged tiles give the same sketch, bit for bit, as one sketch of all the values.
// Thread-safety: a value type; not safe for concurrent mutation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/byte_codec.h"

namespace freshet {

class QuantileSketch {
 public:
  // Part of the state format: changing it changes every stored bucket's meaning.
  static constexpr double kRelativeAccuracy = 0.01;

  void Add(double x);
  void Merge(const QuantileSketch& other);
  // Number of values added (saturating at INT64_MAX); sums the buckets.
  int64_t count() const;
  bool empty() const { return zeros_ == 0 && negative_.empty() && positive_.empty(); }

  // The value of rank ceil(q * count) (1-based) among the values in ascending order, within
  // kRelativeAccuracy of the exact one (PostgreSQL's percentile_disc(q)); q is clamped to
  // [0, 1]. REQUIRES: !empty().
  double Quantile(double q) const;
  size_t MemoryBytes() const;

  // Format: varint zero count, then the negative and the positive buckets, each as varint
  // bucket count, then per bucket (ascending index) the index (the first zigzag, the others as
  // varint difference to the previous, >= 1) and varint count (>= 1).
  void Encode(std::string* out) const;
  // False (leaving the sketch unspecified) for a truncated or malformed encoding: counts out
  // of range, indexes out of range or not ascending.
  bool Decode(byte_codec::ByteReader* in);

 private:
  struct Bucket {
    int32_t index = 0;
    int64_t count = 0;
  };

  // No cached total: the sketch stays within the size of the other accumulators (Acc).
  std::vector<Bucket> negative_;  // by magnitude: ascending index is descending value
  std::vector<Bucket> positive_;
  int64_t zeros_ = 0;
};

}  // namespace freshet

#include "stream/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/int_math.h"

namespace freshet {
namespace {

using byte_codec::ByteReader;
using byte_codec::PutSigned;
using byte_codec::PutVarint;

constexpr double kGamma =
    (1 + QuantileSketch::kRelativeAccuracy) / (1 - QuantileSketch::kRelativeAccuracy);
// A bucket's value: 2 gamma^i / (gamma + 1), the point with the same relative error alpha to
// both ends of (gamma^(i-1), gamma^i].
constexpr double kValueFactor = 2 / (kGamma + 1);
constexpr double kMinMagnitude = std::numeric_limits<double>::min();  // smallest normal
constexpr double kMaxMagnitude = std::numeric_limits<double>::max();

double LogGamma() {
  static const double log_gamma = std::log(kGamma);
  return log_gamma;
}

// REQUIRES: kMinMagnitude <= m <= kMaxMagnitude.
int32_t IndexOf(double m) { return static_cast<int32_t>(std::ceil(std::log(m) / LogGamma())); }

int32_t MinIndex() {
  static const int32_t index = IndexOf(kMinMagnitude);
  return index;
}

int32_t MaxIndex() {
  static const int32_t index = IndexOf(kMaxMagnitude);
  return index;
}

double ValueOf(int32_t index) {
  return std::min(std::exp(index * LogGamma()) * kValueFactor, kMaxMagnitude);
}

// Counts are int64 in memory: a larger encoded count is corrupt.
constexpr uint64_t kMaxCount = static_cast<uint64_t>(kInt64Max);

template <typename Bucket>
void AddToBuckets(std::vector<Bucket>* buckets, int32_t index, int64_t count) {
  auto it = std::lower_bound(buckets->begin(), buckets->end(), index,
                             [](const Bucket& b, int32_t i) { return b.index < i; });
  if (it != buckets->end() && it->index == index) {
    it->count = SaturatingAdd(it->count, count);
  } else {
    buckets->insert(it, Bucket{index, count});
  }
}

template <typename Bucket>
void MergeBuckets(std::vector<Bucket>* into, const std::vector<Bucket>& from) {
  if (from.empty()) return;
  std::vector<Bucket> merged;
  merged.reserve(into->size() + from.size());
  auto a = into->cbegin();
  auto b = from.cbegin();
  while (a != into->cend() || b != from.cend()) {
    if (b == from.cend() || (a != into->cend() && a->index < b->index)) {
      merged.push_back(*a++);
    } else if (a == into->cend() || b->index < a->index) {
      merged.push_back(*b++);
    } else {
      merged.push_back(Bucket{a->index, SaturatingAdd(a->count, b->count)});
      ++a;
      ++b;
    }
  }
  into->swap(merged);
}

template <typename Bucket>
void EncodeBuckets(const std::vector<Bucket>& buckets, std::string* out) {
  PutVarint(out, buckets.size());
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (i == 0) {
      PutSigned(out, buckets[i].index);
    } else {
      PutVarint(out, static_cast<uint64_t>(static_cast<int64_t>(buckets[i].index) -
                                           buckets[i - 1].index));
    }
    PutVarint(out, static_cast<uint64_t>(buckets[i].count));
  }
}

template <typename Bucket>
int64_t Total(const std::vector<Bucket>& buckets) {
  int64_t total = 0;
  for (const Bucket& b : buckets) total = SaturatingAdd(total, b.count);
  return total;
}

template <typename Bucket>
bool DecodeBuckets(ByteReader* in, std::vector<Bucket>* buckets) {
  uint64_t n;
  if (!in->GetCount(&n)) return false;
  buckets->resize(n);
  int64_t index = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i == 0) {
      if (!in->GetSigned(&index) || index < MinIndex()) return false;
    } else {
      uint64_t delta;
      if (!in->GetVarint(&delta) || delta == 0 || delta > static_cast<uint64_t>(MaxIndex() - index))
        return false;
      index += static_cast<int64_t>(delta);
    }
    uint64_t count;
    if (index > MaxIndex() || !in->GetVarint(&count) || count == 0 || count > kMaxCount)
      return false;
    (*buckets)[i] = Bucket{static_cast<int32_t>(index), static_cast<int64_t>(count)};
  }
  return true;
}

}  // namespace

void QuantileSketch::Add(double x) {
  if (std::isnan(x)) return;
  double m = std::min(std::abs(x), kMaxMagnitude);
  if (m < kMinMagnitude) {
    zeros_ = SaturatingAdd(zeros_, 1);
    return;
  }
  AddToBuckets(x < 0 ? &negative_ : &positive_, IndexOf(m), 1);
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  MergeBuckets(&negative_, other.negative_);
  MergeBuckets(&positive_, other.positive_);
  zeros_ = SaturatingAdd(zeros_, other.zeros_);
}

int64_t QuantileSketch::count() const {
  return SaturatingAdd(SaturatingAdd(Total(negative_), zeros_), Total(positive_));
}

double QuantileSketch::Quantile(double q) const {
  q = std::clamp(q, 0.0, 1.0);
  // 0-based rank of the value reported: ceil(q * count) - 1, at least 0.
  double rank = std::max(std::ceil(q * static_cast<double>(count())) - 1, 0.0);
  int64_t seen = 0;
  for (auto it = negative_.rbegin(); it != negative_.rend(); ++it) {
    seen = SaturatingAdd(seen, it->count);
    if (static_cast<double>(seen) > rank) return -ValueOf(it->index);
  }
  seen = SaturatingAdd(seen, zeros_);
  if (static_cast<double>(seen) > rank) return 0;
  for (const Bucket& b : positive_) {
    seen = SaturatingAdd(seen, b.count);
    if (static_cast<double>(seen) > rank) return ValueOf(b.index);
  }
  // Only with saturated counts: the largest value.
  if (!positive_.empty()) return ValueOf(positive_.back().index);
  if (zeros_ > 0 || negative_.empty()) return 0;
  return -ValueOf(negative_.front().index);
}

size_t QuantileSketch::MemoryBytes() const {
  return (negative_.capacity() + positive_.capacity()) * sizeof(Bucket);
}

void QuantileSketch::Encode(std::string* out) const {
  PutVarint(out, static_cast<uint64_t>(zeros_));
  EncodeBuckets(negative_, out);
  EncodeBuckets(positive_, out);
}

bool QuantileSketch::Decode(ByteReader* in) {
  uint64_t zeros;
  if (!in->GetVarint(&zeros) || zeros > kMaxCount) return false;
  zeros_ = static_cast<int64_t>(zeros);
  return DecodeBuckets(in, &negative_) && DecodeBuckets(in, &positive_);
}

}  // namespace freshet

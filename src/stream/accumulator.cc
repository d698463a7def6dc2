#include "stream/accumulator.h"

#include <algorithm>
#include <cmath>

#include "core/int_math.h"
#include "stream/value_ops.h"

namespace freshet {
namespace {

using byte_codec::ByteReader;
using byte_codec::PutDouble;
using byte_codec::PutFixed64;
using byte_codec::PutSigned;
using byte_codec::PutValue;
using byte_codec::PutVarint;

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// (ts, seq) order: later event time, or the same time and later arrival, is "after".
bool After(const StampedValue& a, const StampedValue& b) {
  return a.ts != b.ts ? a.ts > b.ts : a.seq > b.seq;
}

bool TakesOver(AggKind kind, const StampedValue& candidate, const StampedValue& current) {
  if (current.v.is_null()) return true;
  if (kind == AggKind::kLast) return After(candidate, current);
  // first: the earliest event time; among equal times the later arrival wins.
  return candidate.ts != current.ts ? candidate.ts < current.ts : candidate.seq > current.seq;
}

void KeepExtreme(AggKind kind, ExtremeAcc* a, const Value& v) {
  if (a->v.is_null()) {
    a->v = v;
    return;
  }
  int c = CompareValues(v, a->v);
  if (kind == AggKind::kMin ? c < 0 : c > 0) a->v = v;
}

void AddMoment(MomentsAcc* a, double x) {
  a->n = SaturatingAdd(a->n, 1);
  double delta = x - a->mean;
  a->mean += delta / static_cast<double>(a->n);
  a->m2 += delta * (x - a->mean);
}

void MergeMoments(MomentsAcc* a, const MomentsAcc& b) {
  if (b.n == 0) return;
  if (a->n == 0) {
    *a = b;
    return;
  }
  double na = static_cast<double>(a->n), nb = static_cast<double>(b.n);
  double n = na + nb;
  double delta = b.mean - a->mean;
  a->mean += delta * nb / n;
  a->m2 += b.m2 + delta * delta * na * nb / n;
  a->n = SaturatingAdd(a->n, b.n);
}

double SecondsSince(int64_t origin_ms, int64_t ts) {
  return static_cast<double>(SaturatingSub(ts, origin_ms)) / 1000.0;
}

void AddTrend(TrendAcc* a, int64_t ts, double x) {
  if (a->n == 0) a->origin_ms = ts;
  double t = SecondsSince(a->origin_ms, ts);
  a->n = SaturatingAdd(a->n, 1);
  double n = static_cast<double>(a->n);
  double dt = t - a->mean_t;
  double dx = x - a->mean_x;
  a->mean_t += dt / n;
  a->mean_x += dx / n;
  a->m2_t += dt * (t - a->mean_t);
  a->c_tx += dt * (x - a->mean_x);
}

void MergeTrend(TrendAcc* a, const TrendAcc& b) {
  if (b.n == 0) return;
  if (a->n == 0) {
    *a = b;
    return;
  }
  double na = static_cast<double>(a->n), nb = static_cast<double>(b.n);
  double n = na + nb;
  double dt = b.mean_t + SecondsSince(a->origin_ms, b.origin_ms) - a->mean_t;
  double dx = b.mean_x - a->mean_x;
  a->mean_t += dt * nb / n;
  a->mean_x += dx * nb / n;
  a->m2_t += b.m2_t + dt * dt * na * nb / n;
  a->c_tx += b.c_tx + dt * dx * na * nb / n;
  a->n = SaturatingAdd(a->n, b.n);
}

// Null below two events, without spread in time, or when the inputs overflow.
Value TrendSlope(const TrendAcc& a) {
  if (a.n < 2 || !(a.m2_t > 0)) return Value();
  double slope = a.c_tx / a.m2_t;
  return std::isfinite(slope) ? Value::Double(slope) : Value();
}

// Keeps the `n` latest items, oldest first.
void AddLatest(LastNAcc* a, StampedValue item, int n) {
  auto& items = a->items;
  if (static_cast<int>(items.size()) >= n && !After(item, items.front())) return;
  auto pos =
      std::upper_bound(items.begin(), items.end(), item,
                       [](const StampedValue& x, const StampedValue& y) { return After(y, x); });
  items.insert(pos, std::move(item));
  if (static_cast<int>(items.size()) > n) items.erase(items.begin());
}

void AddHash(DistinctAcc* a, uint64_t h) {
  auto it = std::lower_bound(a->hashes.begin(), a->hashes.end(), h);
  if (it == a->hashes.end() || *it != h) a->hashes.insert(it, h);
}

void AddCount(TopKAcc* a, const Value& v, uint64_t h, int64_t count) {
  auto it = std::lower_bound(a->counts.begin(), a->counts.end(), h,
                             [](const TopCount& c, uint64_t x) { return c.hash < x; });
  if (it != a->counts.end() && it->hash == h) {
    it->count = SaturatingAdd(it->count, count);
    return;
  }
  a->counts.insert(it, TopCount{h, count, v});
}

Value TopValues(const TopKAcc& a, int k) {
  std::vector<const TopCount*> order;
  order.reserve(a.counts.size());
  for (const TopCount& c : a.counts) order.push_back(&c);
  auto by_count_then_value = [](const TopCount* x, const TopCount* y) {
    if (x->count != y->count) return x->count > y->count;
    return CompareValues(x->v, y->v) < 0;
  };
  size_t take = std::min(order.size(), static_cast<size_t>(k));
  std::partial_sort(order.begin(), order.begin() + take, order.end(), by_count_then_value);
  Value::List out;
  out.reserve(take);
  for (size_t i = 0; i < take; ++i) out.push_back(order[i]->v);
  return Value::MakeList(std::move(out));
}

Value NewestFirst(const LastNAcc& a) {
  Value::List out;
  out.reserve(a.items.size());
  for (auto it = a.items.rbegin(); it != a.items.rend(); ++it) out.push_back(it->v);
  return Value::MakeList(std::move(out));
}

void EncodeStamped(const StampedValue& s, std::string* out) {
  PutSigned(out, s.ts);
  PutVarint(out, s.seq);
  PutValue(out, s.v);
}

// Counts are int64 in memory: a larger encoded count is corrupt.
constexpr uint64_t kMaxCount = static_cast<uint64_t>(kInt64Max);

bool DecodeStamped(ByteReader* in, StampedValue* s) {
  return in->GetSigned(&s->ts) && in->GetVarint(&s->seq) && in->GetValue(&s->v);
}

size_t ValueBytes(const Value& v) {
  return v.is_string() && v.as_string().size() > 15 ? v.as_string().capacity() : 0;
}

}  // namespace

Aggregation::Aggregation(AggKind kind, int n, bool approx, bool int_input, double q)
    : kind_(kind), n_(n), approx_(approx), int_input_(int_input), q_(q) {}

Acc Aggregation::NewAcc() const {
  switch (kind_) {
    case AggKind::kCount:
    case AggKind::kRate:
      return CountAcc{};
    case AggKind::kSum:
      return SumAcc{};
    case AggKind::kMean:
    case AggKind::kVariance:
    case AggKind::kStddev:
      return MomentsAcc{};
    case AggKind::kMin:
    case AggKind::kMax:
      return ExtremeAcc{};
    case AggKind::kFirst:
    case AggKind::kLast:
      return EdgeAcc{};
    case AggKind::kLastN:
      return LastNAcc{};
    case AggKind::kDistinctCount:
      if (approx_) return HllAcc{};
      return DistinctAcc{};
    case AggKind::kTopK:
      return TopKAcc{};
    case AggKind::kTrend:
      return TrendAcc{};
    case AggKind::kApproxPercentile:
      return SketchAcc{};
  }
  return CountAcc{};
}

void Aggregation::Add(Acc* acc, const Value& v, int64_t ts, uint64_t seq) const {
  std::visit(Overloaded{
                 [](CountAcc& a) { a.n = SaturatingAdd(a.n, 1); },
                 [&](SumAcc& a) {
                   if (int_input_ && v.is_int()) {
                     a.i = SaturatingAdd(a.i, v.as_int());
                   }
                   a.d += v.to_double();
                 },
                 [&](MomentsAcc& a) { AddMoment(&a, v.to_double()); },
                 [&](ExtremeAcc& a) { KeepExtreme(kind_, &a, v); },
                 [&](EdgeAcc& a) {
                   StampedValue candidate{ts, seq, Value()};
                   if (TakesOver(kind_, candidate, a.best)) a.best = StampedValue{ts, seq, v};
                 },
                 [&](LastNAcc& a) {
                   AddLatest(&a, StampedValue{ts, seq, v}, n_);
                 },
                 [&](DistinctAcc& a) { AddHash(&a, HashValue(v)); },
                 [&](HllAcc& a) { a.hll.Add(HashValue(v)); },
                 [&](TopKAcc& a) { AddCount(&a, v, HashValue(v), 1); },
                 [&](TrendAcc& a) { AddTrend(&a, ts, v.to_double()); },
                 [&](SketchAcc& a) { a.sketch.Add(v.to_double()); },
             },
             *acc);
}

void Aggregation::Merge(Acc* into, const Acc& from) const {
  std::visit(Overloaded{
                 [&](CountAcc& a) { a.n = SaturatingAdd(a.n, std::get<CountAcc>(from).n); },
                 [&](SumAcc& a) {
                   const SumAcc& b = std::get<SumAcc>(from);
                   a.i = SaturatingAdd(a.i, b.i);
                   a.d += b.d;
                 },
                 [&](MomentsAcc& a) { MergeMoments(&a, std::get<MomentsAcc>(from)); },
                 [&](ExtremeAcc& a) {
                   const Value& b = std::get<ExtremeAcc>(from).v;
                   if (!b.is_null()) KeepExtreme(kind_, &a, b);
                 },
                 [&](EdgeAcc& a) {
                   const StampedValue& b = std::get<EdgeAcc>(from).best;
                   if (!b.v.is_null() && TakesOver(kind_, b, a.best)) a.best = b;
                 },
                 [&](LastNAcc& a) {
                   for (const StampedValue& s : std::get<LastNAcc>(from).items)
                     AddLatest(&a, s, n_);
                 },
                 [&](DistinctAcc& a) {
                   std::vector<uint64_t> merged;
                   const auto& b = std::get<DistinctAcc>(from).hashes;
                   merged.reserve(a.hashes.size() + b.size());
                   std::set_union(a.hashes.begin(), a.hashes.end(), b.begin(), b.end(),
                                  std::back_inserter(merged));
                   a.hashes.swap(merged);
                 },
                 [&](HllAcc& a) { a.hll.Merge(std::get<HllAcc>(from).hll); },
                 [&](TopKAcc& a) {
                   for (const TopCount& c : std::get<TopKAcc>(from).counts)
                     AddCount(&a, c.v, c.hash, c.count);
                 },
                 [&](TrendAcc& a) { MergeTrend(&a, std::get<TrendAcc>(from)); },
                 [&](SketchAcc& a) { a.sketch.Merge(std::get<SketchAcc>(from).sketch); },
             },
             *into);
}

Value Aggregation::Result(const Acc& acc, int64_t span_ms) const {
  return std::visit(
      Overloaded{
          [&](const CountAcc& a) {
            if (kind_ == AggKind::kCount) return Value::Int(a.n);
            return Value::Double(static_cast<double>(a.n) * 1000.0 / static_cast<double>(span_ms));
          },
          [&](const SumAcc& a) { return int_input_ ? Value::Int(a.i) : Value::Double(a.d); },
          [&](const MomentsAcc& a) {
            if (kind_ == AggKind::kMean) return a.n > 0 ? Value::Double(a.mean) : Value();
            if (a.n < 2) return Value();
            double variance = std::max(0.0, a.m2 / static_cast<double>(a.n - 1));
            return Value::Double(kind_ == AggKind::kVariance ? variance : std::sqrt(variance));
          },
          [](const ExtremeAcc& a) { return a.v; },
          [](const EdgeAcc& a) { return a.best.v; },
          [](const LastNAcc& a) { return NewestFirst(a); },
          [](const DistinctAcc& a) { return Value::Int(static_cast<int64_t>(a.hashes.size())); },
          [](const HllAcc& a) { return Value::Int(std::llround(a.hll.Estimate())); },
          [&](const TopKAcc& a) { return TopValues(a, n_); },
          [](const TrendAcc& a) { return TrendSlope(a); },
          [&](const SketchAcc& a) {
            return a.sketch.empty() ? Value() : Value::Double(a.sketch.Quantile(q_));
          },
      },
      acc);
}

size_t Aggregation::MemoryBytes(const Acc& acc) const {
  return std::visit(Overloaded{
                        [](const ExtremeAcc& a) { return ValueBytes(a.v); },
                        [](const EdgeAcc& a) { return ValueBytes(a.best.v); },
                        [](const LastNAcc& a) {
                          size_t bytes = a.items.capacity() * sizeof(StampedValue);
                          for (const auto& s : a.items) bytes += ValueBytes(s.v);
                          return bytes;
                        },
                        [](const DistinctAcc& a) { return a.hashes.capacity() * sizeof(uint64_t); },
                        [](const HllAcc& a) { return a.hll.MemoryBytes(); },
                        [](const SketchAcc& a) { return a.sketch.MemoryBytes(); },
                        [](const TopKAcc& a) {
                          size_t bytes = a.counts.capacity() * sizeof(TopCount);
                          for (const auto& c : a.counts) bytes += ValueBytes(c.v);
                          return bytes;
                        },
                        [](const auto&) { return size_t{0}; },
                    },
                    acc);
}

void Aggregation::Encode(const Acc& acc, std::string* out) const {
  std::visit(Overloaded{
                 [&](const CountAcc& a) { PutVarint(out, static_cast<uint64_t>(a.n)); },
                 [&](const SumAcc& a) {
                   PutDouble(out, a.d);
                   PutSigned(out, a.i);
                 },
                 [&](const MomentsAcc& a) {
                   PutVarint(out, static_cast<uint64_t>(a.n));
                   PutDouble(out, a.mean);
                   PutDouble(out, a.m2);
                 },
                 [&](const ExtremeAcc& a) { PutValue(out, a.v); },
                 [&](const EdgeAcc& a) { EncodeStamped(a.best, out); },
                 [&](const LastNAcc& a) {
                   PutVarint(out, a.items.size());
                   for (const auto& s : a.items) EncodeStamped(s, out);
                 },
                 [&](const DistinctAcc& a) {
                   PutVarint(out, a.hashes.size());
                   for (uint64_t h : a.hashes) PutFixed64(out, h);
                 },
                 [&](const HllAcc& a) { a.hll.Encode(out); },
                 [&](const TopKAcc& a) {
                   PutVarint(out, a.counts.size());
                   for (const auto& c : a.counts) {
                     PutValue(out, c.v);
                     PutVarint(out, static_cast<uint64_t>(c.count));
                   }
                 },
                 [&](const TrendAcc& a) {
                   PutSigned(out, a.origin_ms);
                   PutVarint(out, static_cast<uint64_t>(a.n));
                   PutDouble(out, a.mean_t);
                   PutDouble(out, a.mean_x);
                   PutDouble(out, a.m2_t);
                   PutDouble(out, a.c_tx);
                 },
                 [&](const SketchAcc& a) { a.sketch.Encode(out); },
             },
             acc);
}

bool Aggregation::Decode(ByteReader* in, Acc* acc) const {
  *acc = NewAcc();
  return std::visit(Overloaded{
                        [&](CountAcc& a) {
                          uint64_t n;
                          if (!in->GetVarint(&n) || n > kMaxCount) return false;
                          a.n = static_cast<int64_t>(n);
                          return true;
                        },
                        [&](SumAcc& a) { return in->GetDouble(&a.d) && in->GetSigned(&a.i); },
                        [&](MomentsAcc& a) {
                          uint64_t n;
                          if (!in->GetVarint(&n) || n > kMaxCount || !in->GetDouble(&a.mean) ||
                              !in->GetDouble(&a.m2))
                            return false;
                          a.n = static_cast<int64_t>(n);
                          return true;
                        },
                        [&](ExtremeAcc& a) { return in->GetValue(&a.v); },
                        [&](EdgeAcc& a) { return DecodeStamped(in, &a.best); },
                        [&](LastNAcc& a) {
                          uint64_t n;
                          if (!in->GetCount(&n) || n > static_cast<uint64_t>(n_)) return false;
                          a.items.resize(n);
                          for (auto& s : a.items) {
                            if (!DecodeStamped(in, &s)) return false;
                          }
                          return true;
                        },
                        [&](DistinctAcc& a) {
                          uint64_t n;
                          if (!in->GetCount(&n)) return false;
                          a.hashes.resize(n);
                          for (uint64_t& h : a.hashes) {
                            if (!in->GetFixed64(&h)) return false;
                          }
                          return std::is_sorted(a.hashes.begin(), a.hashes.end());
                        },
                        [&](HllAcc& a) { return a.hll.Decode(in); },
                        [&](TopKAcc& a) {
                          uint64_t n;
                          if (!in->GetCount(&n)) return false;
                          a.counts.resize(n);
                          for (auto& c : a.counts) {
                            uint64_t count;
                            if (!in->GetValue(&c.v) || !in->GetVarint(&count) || count > kMaxCount)
                              return false;
                            c.hash = HashValue(c.v);
                            c.count = static_cast<int64_t>(count);
                          }
                          return std::is_sorted(
                              a.counts.begin(), a.counts.end(),
                              [](const TopCount& x, const TopCount& y) { return x.hash < y.hash; });
                        },
                        [&](TrendAcc& a) {
                          uint64_t n;
                          if (!in->GetSigned(&a.origin_ms) || !in->GetVarint(&n) || n > kMaxCount ||
                              !in->GetDouble(&a.mean_t) || !in->GetDouble(&a.mean_x) ||
                              !in->GetDouble(&a.m2_t) || !in->GetDouble(&a.c_tx))
                            return false;
                          a.n = static_cast<int64_t>(n);
                          return true;
                        },
                        [&](SketchAcc& a) { return a.sketch.Decode(in); },
                    },
                    *acc);
}

}  // namespace freshet

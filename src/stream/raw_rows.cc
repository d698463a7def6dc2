#include "stream/raw_rows.h"

#include <cstring>

#include "core/int_math.h"

namespace freshet {
namespace {

using byte_codec::ByteReader;

const Value kNull;
constexpr int64_t kNullInt = INT64_MIN;
// A NaN payload no arithmetic produces; marks a null double cell.
constexpr int64_t kNullDouble = 0x7ff8dead0000beefLL;

int64_t EncodeCell(CellKind kind, const Value& v) {
  if (v.is_null() || !v.is_number()) return kind == CellKind::kInt ? kNullInt : kNullDouble;
  if (kind == CellKind::kInt) {
    if (v.is_int()) return v.as_int();
    // Int fields hold ints after validation; a double outside int64 (or NaN) would make the
    // conversion undefined, so it is stored as null.
    double d = v.as_double();
    return d >= -9.2e18 && d <= 9.2e18 ? static_cast<int64_t>(d) : kNullInt;
  }
  double d = v.to_double();
  int64_t bits;
  std::memcpy(&bits, &d, 8);
  return bits;
}

}  // namespace

const Value& RawRows::Get(size_t row, const RawColumn& column, Value* scratch) const {
  if (column.kind == CellKind::kValue) return side_[column.slot][row];
  int64_t cell = words_[row * plan_->row_words + column.slot];
  if (column.kind == CellKind::kInt) {
    *scratch = cell == kNullInt ? Value() : Value::Int(cell);
  } else if (cell == kNullDouble) {
    *scratch = Value();
  } else {
    double d;
    std::memcpy(&d, &cell, 8);
    *scratch = Value::Double(d);
  }
  return *scratch;
}

size_t RawRows::LowerBound(int64_t ts) const {
  size_t lo = 0, hi = size();
  // Reads look near the end (recent windows) as often as anywhere; plain binary search.
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (this->ts(mid) < ts) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void RawRows::EncodeRow(const CompiledView::Impl& plan, const Record& r, int64_t* row) {
  row[0] = r.ts_ms;
  for (const RawColumn& c : plan.raw_columns) {
    if (c.kind == CellKind::kValue) continue;
    row[c.slot] = EncodeCell(
        c.kind, static_cast<size_t>(c.field) < r.values.size() ? r.values[c.field] : kNull);
  }
}

void RawRows::Insert(const int64_t* row, const Record& r) {
  if (side_.size() != static_cast<size_t>(plan_->side_columns)) side_.resize(plan_->side_columns);
  // Word offsets rather than row numbers: no division on this path.
  const size_t stride = plan_->row_words;
  const size_t end = words_.size();
  size_t at = end;
  while (at > 0 && words_[at - stride] > row[0]) at -= stride;  // out-of-order: rare, recent
  if (at == end) {
    words_.insert(words_.end(), row, row + stride);
    for (auto& side : side_) side.emplace_back();
  } else {
    words_.insert(words_.begin() + at, row, row + stride);
    for (auto& side : side_) side.emplace(side.begin() + at / stride);
  }
  for (const RawColumn& c : plan_->raw_columns) {
    if (c.kind != CellKind::kValue) continue;
    side_[c.slot][at / stride] =
        static_cast<size_t>(c.field) < r.values.size() ? r.values[c.field] : kNull;
  }
}

void RawRows::DropBefore(int64_t ts) {
  // Mostly nothing is old enough: the first row says so without a search through the rest.
  if (empty() || this->ts(0) >= ts) return;
  size_t n = LowerBound(ts);
  words_.erase(words_.begin(), words_.begin() + n * plan_->row_words);
  for (auto& side : side_) side.erase(side.begin(), side.begin() + n);
  // Give memory back after a burst, without reallocating on every eviction.
  if (words_.capacity() > 64 && words_.size() < words_.capacity() / 4) {
    words_.shrink_to_fit();
    for (auto& side : side_) side.shrink_to_fit();
  }
}

void RawRows::Clear() {
  words_.clear();
  for (auto& side : side_) side.clear();
}

size_t RawRows::MemoryBytes() const {
  // The inline words are part of the owner's size.
  size_t bytes = words_.capacity() > kInlineWords ? words_.capacity() * sizeof(int64_t) : 0;
  for (const auto& side : side_) {
    bytes += side.capacity() * sizeof(Value);
    for (const Value& v : side) {
      if (v.is_string() && v.as_string().size() > 15) bytes += v.as_string().capacity();
    }
  }
  return bytes;
}

void RawRows::Encode(std::string* out) const {
  using namespace byte_codec;
  const size_t n = size();
  PutVarint(out, n);
  int64_t prev_ts = 0;
  for (size_t row = 0; row < n; ++row) {
    const int64_t* w = &words_[row * plan_->row_words];
    PutSigned(out, w[0] - prev_ts);  // sorted: small non-negative deltas after the first
    prev_ts = w[0];
    if (plan_->row_has_mask) PutVarint(out, static_cast<uint64_t>(w[1]));
    for (const RawColumn& c : plan_->raw_columns) {
      if (c.kind == CellKind::kInt) {
        PutSigned(out, w[c.slot]);
      } else if (c.kind == CellKind::kDouble) {
        PutFixed64(out, static_cast<uint64_t>(w[c.slot]));
      } else {
        PutValue(out, side_[c.slot][row]);
      }
    }
  }
}

bool RawRows::DecodeCell(ByteReader* in, const RawColumn& c, size_t row, int64_t* w) {
  if (c.kind == CellKind::kInt) return in->GetSigned(&w[c.slot]);
  if (c.kind == CellKind::kValue) return in->GetValue(&side_[c.slot][row]);
  uint64_t bits = 0;
  if (!in->GetFixed64(&bits)) return false;
  w[c.slot] = static_cast<int64_t>(bits);
  return true;
}

bool RawRows::Decode(ByteReader* in) {
  uint64_t n;
  if (!in->GetCount(&n)) return false;
  const size_t stride = plan_->row_words;
  words_.assign(n * stride, 0);
  side_.assign(plan_->side_columns, std::vector<Value>(n));
  int64_t prev_ts = 0;
  for (size_t row = 0; row < n; ++row) {
    int64_t* w = &words_[row * stride];
    int64_t delta;
    if (!in->GetSigned(&delta) || (row > 0 && delta < 0) || !CheckedAdd(prev_ts, delta, &w[0])) {
      return false;
    }
    prev_ts = w[0];
    uint64_t mask = 0;
    if (plan_->row_has_mask && !in->GetVarint(&mask)) return false;
    if (plan_->row_has_mask) w[1] = static_cast<int64_t>(mask);
    for (const RawColumn& c : plan_->raw_columns) {
      if (!DecodeCell(in, c, row, w)) return false;
    }
  }
  return true;
}

}  // namespace freshet

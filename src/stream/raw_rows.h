// RawRows: the raw events one entity keeps for its view's sliding windows, sorted by event time
// (events with equal times in arrival order). Rows live in one contiguous int64 buffer —
// [ts][mask][numeric cells] per row, the layout CompiledView::Impl chose — so appending an
// in-order event touches one cache line and allocates only when the buffer grows; string and
// bool inputs live in side columns of Values. The first kInlineWords words live inside the
// object (so inside the engine's entity entry): most entities hold a few events, and their rows
// then cost no allocation and no cache miss beyond the entry's. Internal to src/stream; owned
// by a ViewState.
// Thread-safety: none (the owner's lock).
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/byte_codec.h"
#include "core/value.h"
#include "format/record.h"
#include "stream/compiled_view_impl.h"

namespace freshet {

class RawRows {
 public:
  // Four rows of [ts][mask][one cell], or three of a wider layout.
  static constexpr size_t kInlineWords = 12;

  explicit RawRows(const CompiledView::Impl& plan) : plan_(&plan) {}

  size_t size() const { return words_.size() / plan_->row_words; }
  bool empty() const { return words_.empty(); }
  int64_t ts(size_t row) const { return words_[row * plan_->row_words]; }
  uint32_t mask(size_t row) const {
    return static_cast<uint32_t>(words_[row * plan_->row_words + 1]);
  }
  // The input of `column` in `row`: a reference into a side column, or `scratch` filled with
  // a numeric cell. Null when the event had no value.
  const Value& Get(size_t row, const RawColumn& column, Value* scratch) const;

  // Starts loading the first row (where evictions and encoding start) and the last, when they
  // live outside the object.
  void Prefetch() const {
    if (words_.size() <= kInlineWords) return;
    __builtin_prefetch(words_.data());
    __builtin_prefetch(&words_.back());
  }

  // First row with ts >= `ts`.
  size_t LowerBound(int64_t ts) const;
  // Writes r's row words but the mask ([ts][mask][numeric cells]) to row[0, plan.row_words).
  static void EncodeRow(const CompiledView::Impl& plan, const Record& r, int64_t* row);
  // Adds the row `row` (plan.row_words words, mask included) after every row with ts <= row[0]
  // (in-order events append); the side columns take r's values.
  void Insert(const int64_t* row, const Record& r);
  // Removes rows with ts < `ts`.
  void DropBefore(int64_t ts);
  // Removes every row, keeping the buffers' memory.
  void Clear();

  size_t MemoryBytes() const;
  void Encode(std::string* out) const;
  bool Decode(byte_codec::ByteReader* in);

 private:
  bool DecodeCell(byte_codec::ByteReader* in, const RawColumn& c, size_t row, int64_t* w);

  const CompiledView::Impl* plan_;
  boost::container::small_vector<int64_t, kInlineWords> words_;
  std::vector<std::vector<Value>> side_;  // one per side column, one Value per row
};

}  // namespace freshet

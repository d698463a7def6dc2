// ViewState: the EntityState of every compiled view — one entity's raw rows (sliding windows)
// and tile lists (hopping/tumbling tiles, sessions, lifetime accumulators). Created by
// CompiledView::NewState(), or embedded by the engine in its entity entries to save an
// allocation. Semantics in compiled_view.h and docs/semantics.md.
// Thread-safety: none; the engine guards each state with its shard lock.
#pragma once

#include <array>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "stream/accumulator.h"
#include "stream/compiled_view.h"
#include "stream/compiled_view_impl.h"
#include "stream/raw_rows.h"

namespace freshet {

// A tile of a hopping/tumbling window ([start, start + size)), a session ([start, end] = first
// and last event), or the lifetime accumulator (start = first event).
struct Tile {
  int64_t start = 0;
  int64_t end = 0;  // newest event time in the tile
  Acc acc;
};

// A feature's tiles, sorted by start. The first lives inside the list (so inside the engine's
// entity entry): a session, lifetime or current tumbling tile costs no allocation.
using TileList = boost::container::small_vector<Tile, 1>;

// Raw-row positions for one read time, found once and shared by the sliding features of one
// read of one state: the end of the rows before t and the start of each window length seen.
struct SlidingBounds {
  static constexpr size_t kWindows = 8;  // window lengths remembered; more are searched anew
  size_t end = SIZE_MAX;                 // SIZE_MAX until found
  size_t windows = 0;
  std::array<int64_t, kWindows> window_ms{};
  std::array<size_t, kWindows> start{};
};

class ViewState final : public EntityState {
 public:
  explicit ViewState(const CompiledView::Impl& plan);

  void Insert(const Record& r) override;
  // Insert in two steps, for batches: PrepareEvent writes what inserting `r` needs from it
  // (plan.event_words words: the raw row and the filter mask) while the batch is read in
  // order; Insert(event, r) then reads `r` only if plan.insert_reads_record.
  static void PrepareEvent(const CompiledView::Impl& plan, const Record& r, int64_t* event);
  void Insert(const int64_t* event, const Record& r);
  void Read(int64_t t, const std::vector<int>& features, std::vector<Value>* out) override;
  bool Evict(int64_t horizon_ms) override;
  void Clear() override;
  int64_t last_event_ms() const override { return last_event_ms_; }
  size_t MemoryBytes() const override;
  void Serialize(std::string* out) const override;
  Status Deserialize(std::string_view bytes) override;

  // Starts loading the memory beyond the state object that evictions and encoding touch: the
  // oldest and newest raw rows and the tile lists (software pipelining over many entities).
  void Prefetch() const {
    rows_.Prefetch();
    for (const TileList& list : tiles_) {
      if (list.size() > 1) __builtin_prefetch(list.data());
    }
  }

  // The value of aggregation feature `f` at time t. `bounds`, fresh for each (state, t), lets
  // the features of one read share their raw-row searches.
  Value AggregateAt(const FeaturePlan& f, int64_t t, SlidingBounds* bounds) const;

 private:
  void InsertTiled(const FeaturePlan& f, const Record& r, int64_t ts, uint64_t seq, bool counts);
  Tile& SessionFor(TileList* sessions, const FeaturePlan& f, int64_t ts);
  Value SlidingAt(const FeaturePlan& f, int64_t t, SlidingBounds* bounds) const;
  Value TiledAt(const FeaturePlan& f, int64_t t) const;
  void EvictTiles(const FeaturePlan& f, int64_t horizon_ms);

  const CompiledView::Impl& plan_;
  int64_t last_event_ms_ = INT64_MIN;
  uint64_t next_seq_ = 0;  // arrival order, for ties of event time
  RawRows rows_;
  boost::container::small_vector<TileList, 1> tiles_;  // by FeaturePlan::tiles
};

}  // namespace freshet

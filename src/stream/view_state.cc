#include "stream/view_state.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/int_math.h"

namespace freshet {
namespace {

using byte_codec::ByteReader;

// Version of the entity state format (docs/exactly_once.md). Bump on any layout change.
constexpr uint8_t kStateFormatV1 = 1;
const Value kNull;

// Start of the tile of `size` holding ts (floor, also for negative times).
// Saturates at INT64_MIN where the tile would start before it.
int64_t TileStart(int64_t ts, int64_t size) {
  int64_t rem = ts % size;
  return SaturatingSub(ts, rem < 0 ? rem + size : rem);
}

bool Passes(const FeaturePlan& f, uint32_t mask) { return f.filter < 0 || (mask >> f.filter & 1u); }

// The tile of `list` (sorted by start) that starts at `start`, created when missing.
Tile& TileAt(TileList* list, const Aggregation& agg, int64_t start) {
  auto it = list->end();
  while (it != list->begin() && std::prev(it)->start >= start) --it;  // usually the last tile
  if (it != list->end() && it->start == start) return *it;
  return *list->insert(it, Tile{start, start, agg.NewAcc()});
}

}  // namespace

ViewState::ViewState(const CompiledView::Impl& plan)
    : plan_(plan), rows_(plan), tiles_(plan.tiled.size()) {}

void ViewState::PrepareEvent(const CompiledView::Impl& plan, const Record& r, int64_t* event) {
  uint32_t mask = 0;
  for (size_t i = 0; i < plan.filters.size(); ++i) {
    if (plan.filters[i]->Matches(r.values.data())) mask |= 1u << i;
  }
  RawRows::EncodeRow(plan, r, event);
  event[plan.mask_word] = mask;
}

void ViewState::Insert(const Record& r) {
  boost::container::small_vector<int64_t, 8> event(plan_.event_words);
  PrepareEvent(plan_, r, event.data());
  Insert(event.data(), r);
}

void ViewState::Insert(const int64_t* event, const Record& r) {
  const int64_t ts = event[0];
  const auto mask = static_cast<uint32_t>(event[plan_.mask_word]);
  last_event_ms_ = std::max(last_event_ms_, ts);
  uint64_t seq = next_seq_++;
  if (plan_.has_raw && (plan_.raw_unfiltered || (mask & plan_.raw_filter_bits))) {
    rows_.Insert(event, r);
  }
  for (int index : plan_.tiled) {
    const FeaturePlan& f = plan_.features[index];
    bool counts =
        Passes(f, mask) && (f.input < 0 || (static_cast<size_t>(f.input) < r.values.size() &&
                                            !r.values[f.input].is_null()));
    InsertTiled(f, r, ts, seq, counts);
  }
}

void ViewState::InsertTiled(const FeaturePlan& f, const Record& r, int64_t ts, uint64_t seq,
                            bool counts) {
  TileList& list = tiles_[f.tiles];
  // Sessions are cut by every event of the entity; the filter only picks what they aggregate.
  if (f.window != WindowKind::kSession && !counts) return;
  Tile* tile;
  switch (f.window) {
    case WindowKind::kSession:
      tile = &SessionFor(&list, f, ts);
      break;
    case WindowKind::kHopping:
      tile = &TileAt(&list, f.agg, TileStart(ts, f.hop_ms));
      break;
    case WindowKind::kTumbling:
      tile = &TileAt(&list, f.agg, TileStart(ts, f.window_ms));
      break;
    default:
      if (list.empty()) list.push_back(Tile{ts, ts, f.agg.NewAcc()});
      tile = &list.front();
      tile->start = std::min(tile->start, ts);
      break;
  }
  tile->end = std::max(tile->end, ts);
  if (counts) f.agg.Add(&tile->acc, f.input < 0 ? kNull : r.values[f.input], ts, seq);
}

// Sessions are sorted, and consecutive ones are at least a gap apart. An event joins every
// session within a gap of it, merging them when it bridges two.
Tile& ViewState::SessionFor(TileList* sessions, const FeaturePlan& f, int64_t ts) {
  TileList& s = *sessions;
  const int64_t gap = f.gap_ms;
  size_t hi = s.size();
  while (hi > 0 && SaturatingSub(s[hi - 1].start, ts) >= gap)
    --hi;  // sessions starting a gap or more later
  size_t lo = hi;
  while (lo > 0 && SaturatingSub(ts, s[lo - 1].end) < gap)
    --lo;  // sessions ending less than a gap before
  if (lo == hi) return *s.insert(s.begin() + hi, Tile{ts, ts, f.agg.NewAcc()});
  Tile& merged = s[lo];
  merged.start = std::min(merged.start, ts);
  for (size_t i = lo + 1; i < hi; ++i) {
    f.agg.Merge(&merged.acc, s[i].acc);
    merged.end = std::max(merged.end, s[i].end);
  }
  s.erase(s.begin() + lo + 1, s.begin() + hi);
  return merged;
}

void ViewState::Read(int64_t t, const std::vector<int>& features, std::vector<Value>* out) {
  plan_.ReadFeatures(this, t, features, out);
}

Value ViewState::AggregateAt(const FeaturePlan& f, int64_t t, SlidingBounds* bounds) const {
  return f.window == WindowKind::kSliding ? SlidingAt(f, t, bounds) : TiledAt(f, t);
}

Value ViewState::SlidingAt(const FeaturePlan& f, int64_t t, SlidingBounds* bounds) const {
  if (bounds->end == SIZE_MAX) bounds->end = rows_.LowerBound(t);
  const size_t hi = bounds->end;
  size_t lo = SIZE_MAX;
  for (size_t i = 0; i < bounds->windows && lo == SIZE_MAX; ++i) {
    if (bounds->window_ms[i] == f.window_ms) lo = bounds->start[i];
  }
  if (lo == SIZE_MAX) {
    lo = rows_.LowerBound(SaturatingSub(t, f.window_ms));
    if (bounds->windows < SlidingBounds::kWindows) {
      bounds->window_ms[bounds->windows] = f.window_ms;
      bounds->start[bounds->windows++] = lo;
    }
  }
  if (f.agg.kind() == AggKind::kCount && f.filter < 0 && f.input < 0) {
    return Value::Int(static_cast<int64_t>(hi - lo));
  }
  Acc acc = f.agg.NewAcc();
  const RawColumn* column = f.raw_column >= 0 ? &plan_.raw_columns[f.raw_column] : nullptr;
  Value scratch;
  for (size_t row = lo; row < hi; ++row) {
    if (f.filter >= 0 && !(rows_.mask(row) >> f.filter & 1u)) continue;
    const Value& v = column ? rows_.Get(row, *column, &scratch) : kNull;
    if (column && v.is_null()) continue;
    f.agg.Add(&acc, v, rows_.ts(row), row);  // row order is arrival order among equal times
  }
  return f.agg.Result(acc, f.window_ms);
}

Value ViewState::TiledAt(const FeaturePlan& f, int64_t t) const {
  const TileList& list = tiles_[f.tiles];
  const Acc* single = nullptr;
  int64_t span = f.window_ms;
  Acc merged;
  switch (f.window) {
    case WindowKind::kTumbling: {
      int64_t start = TileStart(t, f.window_ms);
      for (const Tile& tile : list) {
        if (tile.start == start && start < t) single = &tile.acc;
      }
      break;
    }
    case WindowKind::kHopping: {
      int64_t lower = TileStart(SaturatingSub(t, f.window_ms), f.hop_ms);
      merged = f.agg.NewAcc();
      for (const Tile& tile : list) {
        if (tile.start >= lower && tile.start < t) f.agg.Merge(&merged, tile.acc);
      }
      single = &merged;
      break;
    }
    case WindowKind::kSession: {
      // The latest session begun before t, if it is still open (its last event within a gap).
      auto it =
          std::find_if(list.rbegin(), list.rend(), [t](const Tile& s) { return s.start < t; });
      if (it != list.rend() && SaturatingSub(t, it->end) < f.gap_ms) {
        single = &it->acc;
        span = std::max<int64_t>(SaturatingSub(t, it->start), 1000);
      }
      break;
    }
    default:
      if (!list.empty()) single = &list.front().acc;
      break;
  }
  if (single == nullptr) return f.agg.Result(f.agg.NewAcc(), std::max<int64_t>(span, 1));
  return f.agg.Result(*single, std::max<int64_t>(span, 1));
}

bool ViewState::Evict(int64_t horizon_ms) {
  if (plan_.has_raw) rows_.DropBefore(SaturatingSub(horizon_ms, plan_.max_sliding_ms));
  bool empty = rows_.empty();
  for (int index : plan_.tiled) {
    const FeaturePlan& f = plan_.features[index];
    EvictTiles(f, horizon_ms);
    empty = empty && tiles_[f.tiles].empty();
  }
  return empty;
}

void ViewState::EvictTiles(const FeaturePlan& f, int64_t horizon_ms) {
  TileList& list = tiles_[f.tiles];
  auto drop_before = [&list](auto needed) {
    list.erase(list.begin(), std::find_if(list.begin(), list.end(), needed));
    if (list.capacity() > 8 && list.size() < list.capacity() / 4) list.shrink_to_fit();
  };
  switch (f.window) {
    case WindowKind::kTumbling: {
      int64_t oldest = TileStart(horizon_ms, f.window_ms);
      drop_before([oldest](const Tile& tile) { return tile.start >= oldest; });
      break;
    }
    case WindowKind::kHopping: {
      int64_t oldest = TileStart(SaturatingSub(horizon_ms, f.window_ms), f.hop_ms);
      drop_before([oldest](const Tile& tile) { return tile.start >= oldest; });
      break;
    }
    case WindowKind::kSession: {
      // A session is open at t >= horizon (or joinable by an event there) only if it ended
      // after horizon - gap.
      int64_t cutoff = SaturatingSub(horizon_ms, f.gap_ms);
      drop_before([cutoff](const Tile& tile) { return tile.end > cutoff; });
      break;
    }
    default:
      break;  // lifetime: everything is needed forever
  }
}

void ViewState::Clear() {
  last_event_ms_ = INT64_MIN;
  next_seq_ = 0;
  rows_.Clear();
  for (TileList& list : tiles_) list.clear();
}

size_t ViewState::MemoryBytes() const {
  // Inline tile lists and tiles are part of sizeof(*this).
  size_t bytes = sizeof(*this) + rows_.MemoryBytes();
  if (tiles_.capacity() > 1) bytes += tiles_.capacity() * sizeof(tiles_[0]);
  for (int index : plan_.tiled) {
    const FeaturePlan& f = plan_.features[index];
    const TileList& list = tiles_[f.tiles];
    if (list.capacity() > 1) bytes += list.capacity() * sizeof(Tile);
    for (const Tile& tile : list) bytes += f.agg.MemoryBytes(tile.acc);
  }
  return bytes;
}

void ViewState::Serialize(std::string* out) const {
  using namespace byte_codec;
  out->push_back(static_cast<char>(kStateFormatV1));
  PutFixed64(out, plan_.fingerprint);
  PutSigned(out, last_event_ms_);
  PutVarint(out, next_seq_);
  rows_.Encode(out);
  for (int index : plan_.tiled) {
    const FeaturePlan& f = plan_.features[index];
    const TileList& list = tiles_[f.tiles];
    PutVarint(out, list.size());
    for (const Tile& tile : list) {
      PutSigned(out, tile.start);
      PutSigned(out, tile.end - tile.start);
      f.agg.Encode(tile.acc, out);
    }
  }
}

Status ViewState::Deserialize(std::string_view bytes) {
  auto corrupt = [this] {
    return Status::IoError(fmt::format("corrupt entity state of view '{}'", plan_.spec.name));
  };
  ByteReader in(bytes);
  uint8_t version;
  uint64_t fingerprint;
  if (!in.GetByte(&version) || version != kStateFormatV1 || !in.GetFixed64(&fingerprint)) {
    return corrupt();
  }
  if (fingerprint != plan_.fingerprint) {
    return Status::InvalidArgument(
        fmt::format("entity state of view '{}' was written by a different definition of the view",
                    plan_.spec.name));
  }
  if (!in.GetSigned(&last_event_ms_) || !in.GetVarint(&next_seq_) || !rows_.Decode(&in)) {
    return corrupt();
  }
  for (int index : plan_.tiled) {
    const FeaturePlan& f = plan_.features[index];
    TileList& list = tiles_[f.tiles];
    uint64_t n;
    if (!in.GetCount(&n)) return corrupt();
    list.resize(n);
    int64_t prev_start = kInt64Min;
    for (Tile& tile : list) {
      int64_t length;
      // Tiles and sessions are sorted by start and end at or after it.
      if (!in.GetSigned(&tile.start) || !in.GetSigned(&length) || length < 0 ||
          tile.start < prev_start || !CheckedAdd(tile.start, length, &tile.end) ||
          !f.agg.Decode(&in, &tile.acc)) {
        return corrupt();
      }
      prev_start = tile.start;
    }
  }
  return in.empty() ? Status::Ok() : corrupt();
}

}  // namespace freshet

// CompiledView::Impl: the plan a view compiles to, read by ViewState (the EntityState) and the
// engine. Internal to src/stream; other modules use compiled_view.h.
//
// Layout decisions made here, once per view:
//   - every distinct `where` text becomes one bit of the per-event filter mask (at most 32);
//   - sliding features keep raw rows: one row per event that some sliding feature accepts,
//     [ts, mask (only if a sliding feature filters), one 8-byte cell per numeric input field],
//     with string/bool inputs in side columns (RawRows);
//   - every other aggregation keeps a list of tiles (hopping/tumbling tiles, sessions, or the
//     single lifetime tile), indexed by FeaturePlan::tiles.
// Thread-safety: immutable after Compile.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spec/project_spec.h"
#include "stream/accumulator.h"
#include "stream/compiled_view.h"
#include "stream/expr.h"

namespace freshet {

// How a raw row stores an input field.
enum class CellKind : uint8_t {
  kInt,     // int64/timestamp fields: the int64 in the row; null as INT64_MIN
  kDouble,  // double fields: the double's bits in the row; null as a reserved NaN
  kValue,   // string/bool fields: a Value in a side column
};

struct RawColumn {
  int field = 0;  // index into Record::values
  CellKind kind = CellKind::kInt;
  int slot = 0;  // kInt/kDouble: word offset within the row; kValue: side column index
};

struct FeaturePlan {
  std::string name;
  int line = 0;
  // Aggregations (derived == false).
  bool derived = false;
  Aggregation agg{AggKind::kCount, 0, false, false};
  WindowKind window = WindowKind::kLifetime;
  int64_t window_ms = 0;
  int64_t hop_ms = 0;
  int64_t gap_ms = 0;
  int input = -1;       // Record::values index of `of`; -1: the aggregation counts events
  int raw_column = -1;  // sliding with an input: index into Impl::raw_columns
  int filter = -1;      // bit of the `where` filter in the event mask; -1: every event
  int tiles = -1;       // non-sliding: index of the feature's tile list in the state
  std::optional<FieldType> result_type;
  // Derived features (derived == true): slots are feature indexes.
  std::shared_ptr<const Expr> expr;
};

struct CompiledView::Impl {
  FeatureViewSpec spec;
  std::vector<std::string> names;
  std::vector<FeaturePlan> features;  // spec order
  std::vector<int> tiled;             // features owning tile lists, by tile-list index
  std::vector<int> derived_order;     // derived features, dependencies first
  std::vector<std::shared_ptr<const Expr>> filters;  // bit i of the event mask
  std::vector<int> key_fields;

  // Raw rows (sliding windows).
  bool has_raw = false;
  bool raw_unfiltered = false;   // some sliding feature takes every event
  uint32_t raw_filter_bits = 0;  // filters of sliding features
  bool row_has_mask = false;
  int row_words = 1;
  int side_columns = 0;
  std::vector<RawColumn> raw_columns;
  int64_t max_sliding_ms = 0;

  // Events prepared for insertion (ViewState::PrepareEvent): the raw row's words, then the
  // filter mask when the row has no mask word, so `event_words` of them; the mask is at
  // `mask_word`. Inserting reads the record itself only for string/bool raw inputs and the
  // inputs of tiled features (`insert_reads_record`).
  int event_words = 2;
  int mask_word = 1;
  bool insert_reads_record = false;

  int64_t retention_ms = 0;
  // Hash of everything that shapes the stored state; a stored state with another fingerprint
  // came from an older definition of the view and is not loaded.
  uint64_t fingerprint = 0;

  // Values of `features` (all when empty) at time t from `state`, or as for an entity without
  // events when `state` is null. Derived features are evaluated after their inputs.
  void ReadFeatures(const class ViewState* state, int64_t t, const std::vector<int>& features,
                    std::vector<Value>* out) const;
};

}  // namespace freshet

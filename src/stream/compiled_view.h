// CompiledView and EntityState: one feature view's definitions compiled once (windows,
// aggregations, `where` filters and derived expressions), and the window state of one entity
// of that view. This pair is THE aggregation code: the online engine (engine.h) and the offline
// backfill (offline/backfill.h) both insert events into EntityStates and read them at times t,
// so online and offline values agree by construction.
//
// Semantics (docs/semantics.md):
//   sliding  t - window <= ts < t, exact (raw events kept for the window)
//   hopping  sawtooth tiles of `hop`: covers [floor((t - window) / hop) * hop, t); approximate
//            at the tail, cheap for long windows
//   tumbling floor(t / window) * window <= ts < t
//   session  the session open at t: events with gaps < session_gap ending after t - gap
//   lifetime every event so far
//   variance/stddev are sample statistics; first/last order by event time, ties to the later
//   arrival; nulls are skipped by every aggregation.
//   count/sum/rate/distinct_count over an empty window are 0, last_n/top_k an empty list;
//   mean/min/max/first/last/variance/stddev null.
// Tiles, sessions and lifetimes hold accumulators, so a read at t includes every inserted event
// of the tiles it covers; reading at or after the newest event (online reads at "now", the
// backfill's point-in-time order) that is exactly ts < t.
//
// Thread-safety: CompiledView is immutable and shared. An EntityState is not thread-safe: the
// engine guards each with its shard lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "format/record.h"
#include "spec/project_spec.h"

namespace freshet {

class EntityState;

// Status of one entity's values in a read, as Feast names them. Reads of an entity answer
// kPresent, kNotFound or kOutsideMaxAge; kNullValue is the feature store's per-value refinement
// of kPresent (the entity exists, this value is null).
enum class ReadStatus { kPresent, kNotFound, kOutsideMaxAge, kNullValue };
// "PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE", "NULL_VALUE"
std::string_view ReadStatusName(ReadStatus s);

class CompiledView {
 public:
  // Compiles `view` of `spec`. Expression errors name the spec file, line, the feature and the
  // column in the expression, e.g.
  //   "freshet.yaml:14: feature_views.v.features.f.where: column 12: unknown field 'categry'".
  static Result<std::shared_ptr<const CompiledView>> Compile(const ProjectSpec& spec,
                                                             const FeatureViewSpec& view);
  ~CompiledView();

  const FeatureViewSpec& spec() const;
  const std::vector<std::string>& feature_names() const;  // spec order
  int FeatureIndex(std::string_view name) const;          // -1 when absent
  // Indexes of `names` (all features when empty); kNotFound naming the first unknown one.
  Result<std::vector<int>> FeatureIndexes(const std::vector<std::string>& names) const;
  // Indexes into Record::values of the entity key fields, in entity key order.
  const std::vector<int>& key_field_indexes() const;
  // How far behind the newest event time raw events must be kept (largest window etc.).
  int64_t retention_ms() const;

  std::unique_ptr<EntityState> NewState() const;

  // The read rules shared by the engine and the backfill. `state` null (no events seen):
  // kNotFound and the values of empty windows (count 0, mean null...). Newest event older than
  // as_of_ms - ttl: kOutsideMaxAge and every value null. Else kPresent and the values at
  // as_of_ms. `features` as for EntityState::Read. REQUIRES: state came from NewState().
  ReadStatus ReadEntity(EntityState* state, int64_t as_of_ms, const std::vector<int>& features,
                        std::vector<Value>* out) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit CompiledView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class EntityState {
 public:
  virtual ~EntityState() = default;
  // Adds one event (already accepted by the watermark).
  virtual void Insert(const Record& r) = 0;
  // Reads the features at indexes `features` (all when empty) as of time t into `out`.
  virtual void Read(int64_t t, const std::vector<int>& features, std::vector<Value>* out) = 0;
  // Drops what no read at time >= horizon_ms can need. REQUIRES: no later Insert has
  // ts < horizon_ms (the engine passes at most the watermark). Returns true when the state is
  // now empty and may be deleted.
  virtual bool Evict(int64_t horizon_ms) = 0;
  // Back to the state of no events, keeping allocated memory for the next entity (the
  // backfill sweeps entity after entity through one state per view).
  virtual void Clear() = 0;
  // Largest event time inserted (Feast's event_timestamp); INT64_MIN when none.
  virtual int64_t last_event_ms() const = 0;
  // Approximate heap bytes held, for the memory bound and metrics.
  virtual size_t MemoryBytes() const = 0;
  // Versioned binary form (docs/exactly_once.md) for the state column family. Deserialize
  // rejects a state written by a different definition of the view (kInvalidArgument).
  virtual void Serialize(std::string* out) const = 0;
  virtual Status Deserialize(std::string_view bytes) = 0;
};

}  // namespace freshet

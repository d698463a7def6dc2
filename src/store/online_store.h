// OnlineStore: where the feature store reads an entity's current feature values. The embedded
// default is EngineOnlineStore (engine_online_store.h), which evaluates the stream engine's
// window state at the read time; a Redis store for scale-out comes next and plugs in here.
//
// Contract:
//  - Read evaluates `features` of `view` for each key at `as_of_ms`, returning one ViewRead
//    per key in key order: the values (one per feature, in `features` order; all of the view's
//    features when `features` is empty), the status (PRESENT, NOT_FOUND, or OUTSIDE_MAX_AGE when
//    the entity's newest event is older than the view's TTL at as_of_ms) and that newest event
//    time (0 when not found). A batch per view lets a remote store fetch all keys in one round
//    trip.
//  - Errors: kNotFound for an unknown view or feature, kInvalidArgument for a key of the wrong
//    arity, kUnavailable when a remote store cannot be reached. On error *out is unspecified.
//  - `generation` picks the view's feature generation (store/generation_router.h); 0 is the
//    view's default. A store without generations serves only 0.
//  - Thread-safety: Read is thread-safe and may run concurrently with ingestion.
//  - Ownership: what a store reads (the engine, a connection pool) is not owned unless its
//    factory says so; the store must not outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "store/generation_router.h"
#include "stream/engine.h"

namespace freshet {

class OnlineStore {
 public:
  virtual ~OnlineStore() = default;
  // The name the store is created by, e.g. "embedded".
  virtual std::string_view kind() const = 0;
  virtual Status Read(const std::string& view, const std::vector<std::vector<Value>>& keys,
                      const std::vector<std::string>& features, int64_t as_of_ms,
                      std::vector<ViewRead>* out, uint32_t generation = 0) = 0;
};

// What a store's factory may use. Not owned; must outlive the store.
struct OnlineStoreContext {
  StreamEngine* engine = nullptr;  // "embedded": required unless `generations` is set
  // "embedded": reads every view through it, by generation. Default: none (the one engine).
  const GenerationRouter* generations = nullptr;
};

inline constexpr std::string_view kDefaultOnlineStore = "embedded";

// Creates the store called `kind`. Unknown kind: kInvalidArgument naming it and the known ones;
// a kind whose context is missing (no engine for "embedded"): kInvalidArgument.
Result<std::unique_ptr<OnlineStore>> CreateOnlineStore(std::string_view kind,
                                                       const OnlineStoreContext& context);

// The kinds CreateOnlineStore accepts, sorted.
std::vector<std::string> KnownOnlineStores();

}  // namespace freshet

// Demo data for the meditation example (examples/meditation): a seeded, deterministic simulation
// of app events for many users, plus training labels that the simulation can compute because it
// knows each user's future. `freshet demo` writes these files, backfills a training set from them,
// trains a model and then replays LiveSession() to show a recommendation changing.
//
// The simulation, in short: each user has a persona (preferences over the five categories) and
// an activity level; sessions arrive more often in the morning and evening; the category of a
// session's first content follows persona x time of day (sleep content at night, focus during
// working hours); within a session a user tends to stick to a category after completing content
// and tends to switch after exiting early. Events are `search`, `start`, then `exit` (listened
// part) or `complete` (full length). So a model reading recent-window counts (sleep starts and
// exits in the last 10 minutes, sleep starts in the last day) can learn whether the next start
// will be sleep content.
//
// Everything is a pure function of its arguments: the same options give the same data. Randomness
// is std::mt19937_64 (specified bit for bit) through our own transforms rather than <random>'s
// distributions, whose sequences differ between standard libraries.
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace freshet {

// One event of the example's `app_events` source (see examples/meditation/freshet.yaml).
struct DemoEvent {
  std::string user_id;    // "u0", "u1", ...
  int64_t ts_ms = 0;      // event time, epoch milliseconds
  std::string event;      // "search", "start", "exit" or "complete"
  std::string category;   // "sleep", "focus", "move", "meditate" or "stress"
  double duration_s = 0;  // seconds listened: > 0 for exit and complete, 0 for search and start
};

struct DemoDataOptions {
  // Default: 42. Different seeds give different data.
  uint64_t seed = 42;
  // Number of simulated users. Default: 2000. REQUIRES: > 0.
  int users = 2000;
  // Start of the simulated span. Default: 2026-01-01T00:00:00Z (the peers' benchmark epoch).
  int64_t start_ms = 1'767'225'600'000;
  // Length of the span; every event has start_ms <= ts_ms < start_ms + span_ms. Default: 3 days.
  int64_t span_ms = 3 * 24 * 3600 * 1000LL;
  // Number of training labels to sample. Default: 20,000. Fewer come back only when the span
  // holds almost no content starts (tiny spans or user counts).
  int labels = 20'000;
};

struct DemoData {
  // A training label: 1 when the user's next `start` at or after ts_ms is sleep content, else 0.
  // Events at ts_ms itself are not yet visible to features read at ts_ms (windows cover
  // t - window <= ts < t), so "at or after" keeps features and label disjoint.
  struct Label {
    std::string user_id;
    int64_t ts_ms = 0;
    int label = 0;
  };

  std::vector<DemoEvent> events;  // sorted by ts_ms (ties in user order)
  std::vector<Label> labels;      // sorted by ts_ms; every label has a later-or-equal start
};

// Simulates options.users users over the span and samples options.labels labels: most at the
// moment a user is about to pick the next content (just before a start: what a recommender is
// asked), the rest at uniformly random times.
DemoData GenerateDemoData(const DemoDataOptions& options);

// A scripted live session for `user_id` starting at start_ms, for the demo to ingest event by
// event while it prints the recommendation: the user tries focus content and leaves it, searches
// sleep content, exits two sleep tracks early and completes a third. All events fall within
// [start_ms, start_ms + 9 minutes), so a 10-minute window read at the end sees all of them.
// `seed` jitters the gaps between events.
std::vector<DemoEvent> LiveSession(const std::string& user_id, int64_t start_ms, uint64_t seed);

// One NDJSON line without the newline:
// {"user_id":"u7","ts_ms":1767225600000,"event":"start","category":"sleep","duration_s":0.0}
std::string ToNdjson(const DemoEvent& event);
// Events as an NDJSON body (one line each, every line ending in '\n'), e.g. for POST /v1/events.
std::string ToNdjson(std::span<const DemoEvent> events);

// Writes data.events as NDJSON to `path` (replacing it). kIoError naming the path on failure.
Status WriteEventsNdjson(const DemoData& data, const std::string& path);
// Writes data.labels as CSV with the header "user_id,ts_ms,label". kIoError on failure.
Status WriteLabelsCsv(const DemoData& data, const std::string& path);

}  // namespace freshet

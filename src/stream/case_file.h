// CaseFile: one declarative stream-semantics test (src/stream/testdata/cases/*.case), parsed.
// Test-only (linked into stream_test). The format, sqllogictest style:
//
//   # name: sliding count
//   # description: events older than the window drop out as time passes
//   # group: [sliding]
//
//   spec:                        a freshet.yaml, or (without a `project:` line) the body of
//   features:                    view `v` over the default entity `user` (key user_id) and
//     n: {agg: count, window: 10m}   source `events` (see DefaultSpec); a body line
//                                `allowed_lateness: 5m` moves to the source, `entity: pair`
//   events:                      picks the composite entity (user_id, item_id)
//   {"user_id": "u1", "ts": 1000}        NDJSON in arrival order ("events SOURCE:" for others)
//
//   expect:
//   at 10s u1: n=1 mean=null xs=["a", "b"] d=~100±3
//   status u1 at 2h: OUTSIDE_MAX_AGE
//   late: 2
//
// `events:` and `expect:` sections interleave; reads happen after the events above them.
// Times are durations from the epoch ("10s", "1h30m", or bare milliseconds). A key is
// `[view/]part[,part...]`. `error:` instead of events/expect holds a substring of the expected
// spec/compile error. Blank lines and other `#` lines are ignored.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/value.h"

namespace freshet {

// An expected value: exact (numbers compare with a 1e-9 relative tolerance) or approximate.
struct CaseValue {
  Value exact;
  bool approx = false;
  double target = 0;
  double tolerance = 0;

  bool Matches(const Value& actual) const;
  std::string ToString() const;
};

struct CaseStep {
  enum class Kind { kEvents, kRead, kStatus, kLate };
  Kind kind = Kind::kEvents;
  int line = 0;
  // kEvents
  std::string source;                               // empty: the spec's only source
  std::vector<std::pair<int, std::string>> events;  // (line, NDJSON object)
  // kRead, kStatus
  std::string view;  // empty: the spec's only view (or "v")
  std::vector<Value> key;
  std::string key_text;
  int64_t at_ms = 0;
  std::vector<std::pair<std::string, CaseValue>> values;  // kRead
  std::string status;                                     // kStatus
  // kLate
  uint64_t late = 0;
};

struct CaseFile {
  std::string path;
  std::string name;
  std::string description;
  std::string group;
  std::string spec_yaml;  // complete freshet.yaml text
  std::string expected_error;
  std::vector<CaseStep> steps;
};

// Parses a case file's text. Errors name the path and line.
Result<CaseFile> ParseCaseFile(const std::string& path, const std::string& text);

// The freshet.yaml a spec body without `project:` expands to.
std::string DefaultSpec(const std::vector<std::string>& body_lines);

}  // namespace freshet

// CaseRunner: runs the declarative stream-semantics cases (case_file.h) against a way of
// computing features (a CaseTarget: the online engine, a replay, the offline backfill), so one
// file of events and expectations checks every path. Test-only: linked into stream_test and
// the cross-module tests/cases_backfill_test.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/status.h"
#include "format/record.h"
#include "spec/project_spec.h"
#include "stream/case_file.h"
#include "stream/engine.h"

namespace freshet {

// What a case needs from a way of computing features.
class CaseTarget {
 public:
  virtual ~CaseTarget() = default;
  virtual std::string name() const = 0;
  virtual Status Apply(const std::string& source, uint64_t offset,
                       const std::vector<Record>& records) = 0;
  // All features of the view, in spec order.
  virtual Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                                int64_t at_ms) = 0;
  virtual Result<uint64_t> Late() = 0;
  // Whether Read reports statuses (NOT_FOUND, OUTSIDE_MAX_AGE); `status` steps are skipped
  // for targets that do not.
  virtual bool reports_status() const { return true; }
};

// A case with its spec loaded and its events parsed into records.
struct LoadedCase {
  CaseFile file;
  ProjectSpec spec;
  std::vector<std::vector<Record>> records;  // per step (events steps only)
  size_t total_records = 0;
  std::string default_view;
  std::string default_source;
};

// Parses the events of every step of `c` (whose file and spec are set) into records.
Status ParseEvents(LoadedCase* c);

// Runs every step against `target`; returns one message per mismatch.
std::vector<std::string> RunCase(LoadedCase& c, CaseTarget* target);

// The directory holding the *.case files, and their names in order.
std::string CasesDir();
std::vector<std::string> CaseFiles();
// The case files that run events (not those expecting a spec or compile error).
std::vector<std::string> EventCaseFiles();
// A GoogleTest parameter name for a case file: its stem with non-alphanumerics as '_'.
std::string CaseTestName(const testing::TestParamInfo<std::string>& info);

// Reads and parses the case `name` in CasesDir(). The spec is loaded unless the case expects a
// spec or compile error (then `spec` stays empty and the caller checks the error).
Result<LoadedCase> LoadCase(const std::string& name);

}  // namespace freshet

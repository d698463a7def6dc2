// RecordParser: turns a request body or file (a JSON object, a JSON array of objects, or
// NDJSON) into validated Records of one source, using simdjson.
//
// Validation: every declared field is typed-checked (int64 accepts integral JSON numbers,
// double accepts any number, timestamp accepts epoch-ms numbers or RFC 3339 strings, string
// requires a JSON string, bool a JSON bool); null or absent means null; the timestamp field
// and the entity key fields of every view on this source are required; unknown fields are
// ignored. The first bad record fails the whole parse with kInvalidArgument naming the record
// (NDJSON: "line 3"; array: "record 3"; single object: "record 1"), the field and what is wrong,
// e.g. "line 3: field 'duration_s': expected double, got string \"abc\"". Every value of a
// timestamp-typed field, and the timestamp field's own slot when it is declared in `fields`
// (whatever its declared type), is stored as epoch ms in an int64 Value.
//
// Body kinds, by the first non-space character: '[' an array; '{' a single object, or NDJSON
// when anything but whitespace follows the first complete object (blank lines are skipped).
// Thread-safety: one parser per thread. It reuses its buffers across calls, so they stay sized
// for the largest body parsed so far (about 3x its size).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "format/parse_error.h"
#include "format/record.h"
#include "spec/project_spec.h"

namespace freshet {

class RecordParser {
 public:
  // `required` lists field names that must be present and non-null besides the timestamp
  // (the entity keys of the views fed by this source).
  RecordParser(const SourceSpec& source, std::vector<std::string> required);
  ~RecordParser();

  // Parses all records of `body` into `out`, replacing what it held: the records already
  // there are overwritten in place, so a caller parsing batch after batch into one vector
  // allocates nothing per record. On error `out` is left empty and, when `error` is not null,
  // it gets the position and field as data.
  Status Parse(std::string_view body, std::vector<Record>* out, ParseError* error = nullptr);
  // Parse for a piece of a line-oriented file whose first line is `first_line`: errors name
  // absolute lines, a lone object included (by the line it starts on).
  Status ParseFileBlock(std::string_view body, uint64_t first_line, std::vector<Record>* out,
                        ParseError* error = nullptr);

 private:
  Status ParseBody(std::string_view body, std::vector<Record>* out, uint64_t first_line,
                   bool file_block, ParseError* error);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The required (entity key) fields of `source` under `spec`: the key fields of every entity of
// every feature view reading from it.
std::vector<std::string> RequiredFields(const ProjectSpec& spec, const std::string& source);

}  // namespace freshet

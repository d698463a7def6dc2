// CSV, as freshet reads and writes it: RFC 4180 records (quoted fields with "" escapes and
// embedded newlines, CRLF or LF), typed cells, and CSV rows turned into validated Records of a
// source. Used by the backfill (event and labels files) and file sources.
// Thread-safety: CsvParser is used by one thread at a time; CsvRecordParser's Parse is const and
// safe from several threads once the header is set.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "format/parse_error.h"
#include "format/record.h"
#include "spec/project_spec.h"

namespace freshet {

// One CSV record.
struct CsvRow {
  std::string_view raw;                  // the record's text without its line ending
  std::vector<std::string_view> fields;  // unescaped; valid until the next Next()
  std::vector<uint8_t> quoted;           // per field: 1 when it was written in quotes
  uint64_t line = 0;                     // number of the record's first line
};

// Parses CSV records from text holding whole records. Blank lines are skipped.
class CsvParser {
 public:
  CsvParser(std::string_view text, uint64_t first_line) : text_(text), line_(first_line) {}
  // The next record; false at the end of the text.
  bool Next(CsvRow* row);
  size_t position() const { return pos_; }

 private:
  // Next() for a record with quotes (then fields may need unescaping).
  bool NextQuoted(CsvRow* row);

  // A field as (offset, length) in text_ or, once unescaped, in unescaped_; views are made
  // when the row is done, as unescaped_ may reallocate meanwhile.
  struct Span {
    size_t offset, length;
    bool unescaped;
  };

  std::string_view text_;
  size_t pos_ = 0;
  uint64_t line_;
  std::string unescaped_;
  std::vector<Span> spans_;
};

// Converts the text of a non-empty cell to a value of `type` (int64 and double in C++'s
// from_chars syntax, bool as true/false/t/f/1/0, timestamps as epoch ms or RFC 3339); false
// when it is not one.
bool ParseCsvCell(FieldType type, std::string_view text, Value* out);

// Appends `field` to `out`, quoted when it holds a comma, a quote or a line break.
void AppendCsvField(std::string_view field, std::string* out);

// Turns CSV rows of one file into Records of its source, by the header's column names: cells
// are typed by the source schema (ParseCsvCell), an unquoted empty cell is null and a quoted ""
// an empty string (PostgreSQL's COPY rule); columns the schema lacks are ignored.
class CsvRecordParser {
 public:
  // `file` names the input in errors. `source` must outlive the parser.
  CsvRecordParser(const SourceSpec& source, std::string file)
      : source_(source), file_(std::move(file)) {}

  // Maps the header's columns to schema fields. kInvalidArgument when the timestamp field or one
  // of `required` has no column.
  Status SetHeader(const CsvRow& header, const std::vector<std::string>& required);

  // Parses the whole records of `text`, whose first line is `first_line`, into *out,
  // overwriting the records already there (their memory is reused). On a bad row returns
  // kInvalidArgument and, when `error` is not null, fills it (file, line, field, reason).
  Status Parse(std::string_view text, uint64_t first_line, std::vector<Record>* out,
               ParseError* error = nullptr) const;

 private:
  struct Column {
    std::string name;
    int value_index;  // -1: not in the schema
    FieldType type;
    bool is_timestamp;
    bool required;
  };

  Status ReadCell(const Column& c, std::string_view cell, bool quoted, uint64_t line, Record* rec,
                  ParseError* error) const;
  Status Fail(uint64_t line, std::string field, std::string reason, ParseError* error) const;

  const SourceSpec& source_;
  std::string file_;
  std::vector<Column> columns_;
};

}  // namespace freshet

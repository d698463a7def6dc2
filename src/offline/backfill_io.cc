#include "offline/backfill_io.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/time_util.h"
#include "log/record_parser.h"

namespace freshet {
namespace {

constexpr size_t kBlockBytes = size_t{4096} << 10;
// Below this a block is parsed on the calling thread alone: threads would cost more.
constexpr size_t kMinParallelBlock = size_t{256} << 10;
// Rough memory of parsed records per byte of input (a Record of a few Values takes ~250 bytes:
// ~2.5x an NDJSON line, ~6x a CSV line).
constexpr uint64_t kNdjsonExpansion = 3;
constexpr uint64_t kCsvExpansion = 6;

bool HasQuote(std::string_view text) { return std::memchr(text.data(), '"', text.size()); }

// The end of the last whole record of `text` (just past a newline outside quotes); 0 when
// there is none.
size_t LastRecordBoundary(std::string_view text, bool csv) {
  if (!csv || !HasQuote(text)) {
    const void* nl = memrchr(text.data(), '\n', text.size());
    return nl ? static_cast<const char*>(nl) - text.data() + 1 : 0;
  }
  bool in_quotes = false;
  size_t last = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') in_quotes = !in_quotes;
    if (text[i] == '\n' && !in_quotes) last = i + 1;
  }
  return last;
}

bool IsCsvPath(const SourceSpec& source, const std::string& path) {
  std::string_view p(path);
  return source.format == "csv" || (p.size() >= 4 && p.substr(p.size() - 4) == ".csv");
}

// memchr jumps from newline to newline with vector compares: several times faster than a
// byte loop on lines of a few dozen bytes.
uint64_t CountLines(std::string_view text) {
  uint64_t n = 0;
  const char* end = text.data() + text.size();
  for (const char* p = text.data();
       (p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)))); ++p) {
    ++n;
  }
  return n;
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseBool(std::string_view text, bool* out) {
  if (text == "true" || text == "t" || text == "1" || text == "TRUE" || text == "True") {
    *out = true;
  } else if (text == "false" || text == "f" || text == "0" || text == "FALSE" || text == "False") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

bool ParseTimestamp(std::string_view text, int64_t* out) {
  if (ParseNumber(text, out)) return true;
  Result<int64_t> ms = ParseRfc3339Ms(text);
  if (!ms.ok()) return false;
  *out = *ms;
  return true;
}

}  // namespace

bool ParseCsvCell(FieldType type, std::string_view text, Value* out) {
  switch (type) {
    case FieldType::kString:
      out->SetString(text);
      return true;
    case FieldType::kInt64: {
      int64_t i;
      if (!ParseNumber(text, &i)) return false;
      out->SetInt(i);
      return true;
    }
    case FieldType::kDouble: {
      double d;
      if (!ParseNumber(text, &d)) return false;
      out->SetDouble(d);
      return true;
    }
    case FieldType::kBool: {
      bool b;
      if (!ParseBool(text, &b)) return false;
      out->SetBool(b);
      return true;
    }
    case FieldType::kTimestamp: {
      int64_t ms;
      if (!ParseTimestamp(text, &ms)) return false;
      out->SetInt(ms);
      return true;
    }
  }
  return false;
}

namespace {

// Turns CSV rows of one event file into Records of its source, by the header's column names.
class CsvEventParser {
 public:
  CsvEventParser(const SourceSpec& source, std::string file)
      : source_(source), file_(std::move(file)) {}

  // Maps the header's columns to schema fields. Columns the schema lacks are ignored.
  Status SetHeader(const CsvRow& header, const std::vector<std::string>& required) {
    columns_.clear();
    bool has_ts = false;
    for (std::string_view name : header.fields) {
      int index = source_.FieldIndex(std::string(name));
      bool is_ts = name == source_.timestamp_field;
      has_ts |= is_ts;
      FieldType type = is_ts        ? FieldType::kTimestamp
                       : index >= 0 ? source_.fields[index].type
                                    : FieldType::kString;
      columns_.push_back({std::string(name), index, type, is_ts,
                          std::find(required.begin(), required.end(), name) != required.end()});
    }
    if (!has_ts) return MissingColumn(source_.timestamp_field);
    for (const std::string& name : required) {
      auto same = [&](const Column& c) { return c.name == name; };
      if (std::none_of(columns_.begin(), columns_.end(), same)) return MissingColumn(name);
    }
    return Status::Ok();
  }

  // Parses the whole records of `piece`, whose first line is `first_line`, into *out,
  // overwriting the records already there (their memory is reused). Thread-safe.
  Status Parse(std::string_view piece, uint64_t first_line, std::vector<Record>* out) const {
    CsvParser parser(piece, first_line);
    CsvRow row;
    size_t n = 0;
    while (parser.Next(&row)) {
      if (row.fields.size() != columns_.size()) {
        return Error(row.line,
                     fmt::format("expected {} fields, got {}", columns_.size(), row.fields.size()));
      }
      if (n == out->size()) out->emplace_back();
      Record& rec = (*out)[n++];
      // Fields without a column stay null: every reused record comes from this same header.
      rec.values.resize(source_.fields.size());
      for (size_t i = 0; i < columns_.size(); ++i) {
        RETURN_IF_ERROR(ReadCell(columns_[i], row.fields[i], row.quoted[i], row.line, &rec));
      }
    }
    out->resize(n);
    return Status::Ok();
  }

 private:
  struct Column {
    std::string name;
    int value_index;  // -1: not in the schema
    FieldType type;
    bool is_timestamp;
    bool required;
  };

  Status ReadCell(const Column& c, std::string_view cell, bool quoted, uint64_t line,
                  Record* rec) const {
    if (c.value_index < 0 && !c.is_timestamp) return Status::Ok();
    if (cell.empty() && !quoted) {
      if (c.is_timestamp || c.required) {
        return Error(line, fmt::format("field '{}': required but empty", c.name));
      }
      if (c.value_index >= 0) rec->values[c.value_index] = Value();
      return Status::Ok();
    }
    // Parsed straight into the record's value, whose string buffer is reused.
    Value scratch;
    Value* v = c.value_index >= 0 ? &rec->values[c.value_index] : &scratch;
    if (!ParseCsvCell(c.type, cell, v)) {
      return Error(line, fmt::format("field '{}': expected {}, got '{}'", c.name,
                                     FieldTypeName(c.type), cell.substr(0, 40)));
    }
    if (c.is_timestamp) rec->ts_ms = v->as_int();
    return Status::Ok();
  }

  Status MissingColumn(const std::string& name) const {
    return Status::InvalidArgument(fmt::format("{}: no column '{}' in the header", file_, name));
  }
  Status Error(uint64_t line, std::string what) const {
    return Status::InvalidArgument(fmt::format("{}:{}: {}", file_, line, what));
  }

  const SourceSpec& source_;
  std::string file_;
  std::vector<Column> columns_;
};

// RecordParser numbers lines (or records) from the start of what it was given; make the number
// absolute within `file`: "line 3: ..." -> "events.ndjson:1002: ...".
Status RebaseLine(const Status& st, const std::string& file, uint64_t first_line) {
  std::string_view m = st.message();
  for (std::string_view unit : {"line ", "record "}) {
    if (m.substr(0, unit.size()) != unit) continue;
    size_t digits_end = m.find(':', unit.size());
    uint64_t n = 0;
    if (digits_end == std::string_view::npos ||
        !ParseNumber(m.substr(unit.size(), digits_end - unit.size()), &n)) {
      break;
    }
    return Status(st.code(),
                  fmt::format("{}:{}{}", file, first_line + n - 1, m.substr(digits_end)));
  }
  return st.WithContext(file);
}

// Parses one block of an event file, split across threads at record boundaries.
class BlockParser {
 public:
  BlockParser(const SourceSpec& source, std::vector<std::string> required, int threads)
      : source_(source), required_(std::move(required)), threads_(std::max(1, threads)) {
    for (int i = 0; i < threads_; ++i)
      ndjson_.push_back(std::make_unique<RecordParser>(source, required_));
  }

  void StartFile(const std::string& path) {
    path_ = path;
    csv_ = IsCsvPath(source_, path);
    csv_parser_.reset();
  }
  bool csv() const { return csv_; }

  // Parses `block` (starting at line `first_line`) into one vector per piece, in file order.
  Status Parse(std::string_view block, uint64_t first_line, std::vector<std::vector<Record>>* out) {
    if (csv_ && !csv_parser_) RETURN_IF_ERROR(TakeHeader(&block, &first_line));
    size_t pieces = block.size() < kMinParallelBlock ? 1 : static_cast<size_t>(threads_);
    std::vector<size_t> bounds = {0};
    for (size_t k = 1; k < pieces; ++k) {
      bounds.push_back(
          std::max(bounds.back(), NextRecordBoundary(block, block.size() * k / pieces, csv_)));
    }
    bounds.push_back(block.size());
    out->resize(pieces);  // records of the last block are overwritten: no allocation per row
    std::vector<Status> status(pieces);
    auto run = [&](size_t k) {
      std::string_view piece = block.substr(bounds[k], bounds[k + 1] - bounds[k]);
      uint64_t line = first_line + CountLines(block.substr(0, bounds[k]));
      status[k] = ParsePiece(k, piece, line, &(*out)[k]);
    };
    std::vector<std::thread> workers;
    for (size_t k = 1; k < pieces; ++k) workers.emplace_back(run, k);
    run(0);
    for (std::thread& t : workers) t.join();
    for (const Status& st : status) RETURN_IF_ERROR(st);
    return Status::Ok();
  }

 private:
  Status TakeHeader(std::string_view* block, uint64_t* first_line) {
    CsvParser parser(*block, *first_line);
    CsvRow header;
    if (!parser.Next(&header)) return Status::InvalidArgument(path_ + ": no header line");
    csv_parser_ = std::make_unique<CsvEventParser>(source_, path_);
    RETURN_IF_ERROR(csv_parser_->SetHeader(header, required_));
    *first_line += CountLines(block->substr(0, parser.position()));
    block->remove_prefix(parser.position());
    return Status::Ok();
  }

  Status ParsePiece(size_t k, std::string_view piece, uint64_t line, std::vector<Record>* out) {
    if (csv_) return csv_parser_->Parse(piece, line, out);
    if (piece.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      out->clear();
      return Status::Ok();
    }
    Status st = ndjson_[k]->Parse(piece, out);
    return st.ok() ? st : RebaseLine(st, path_, line);
  }

  const SourceSpec& source_;
  std::vector<std::string> required_;
  int threads_;
  std::vector<std::unique_ptr<RecordParser>> ndjson_;  // one per thread
  std::string path_;
  bool csv_ = false;
  std::unique_ptr<CsvEventParser> csv_parser_;  // set from the current file's header
};

}  // namespace

BlockReader::~BlockReader() {
  if (file_) std::fclose(file_);
}

Status BlockReader::Open(const std::string& path) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) return Status::IoError(fmt::format("{}: {}", path, std::strerror(errno)));
  // A file smaller than a block gets a buffer of its size: zeroing and faulting in a whole
  // block would cost more than reading it.
  struct stat st;
  if (fstat(fileno(file_), &st) == 0 && S_ISREG(st.st_mode)) {
    block_bytes_ = std::min(block_bytes_, static_cast<size_t>(st.st_size) + 1);
  }
  return Status::Ok();
}

Result<bool> BlockReader::Next(std::string_view* block, uint64_t* first_line) {
  buffer_.erase(0, consumed_);
  consumed_ = 0;
  size_t want = block_bytes_;
  while (true) {
    while (!eof_ && buffer_.size() < want) {
      size_t old = buffer_.size();
      buffer_.resize(want);
      size_t got = std::fread(buffer_.data() + old, 1, want - old, file_);
      buffer_.resize(old + got);
      if (got == 0) {
        if (std::ferror(file_)) return Status::IoError(path_ + ": read error");
        eof_ = true;
      }
    }
    if (buffer_.empty()) return false;
    consumed_ = eof_ ? buffer_.size() : LastRecordBoundary(buffer_, csv_);
    if (consumed_ > 0) break;
    want *= 2;  // one record longer than the block
  }
  *block = std::string_view(buffer_).substr(0, consumed_);
  *first_line = next_line_;
  next_line_ += CountLines(*block);
  return true;
}

size_t NextRecordBoundary(std::string_view text, size_t pos, bool csv) {
  bool in_quotes = false;
  if (csv && HasQuote(text)) {
    for (size_t i = 0; i < pos; ++i) in_quotes ^= text[i] == '"';
  }
  for (size_t i = pos; i < text.size(); ++i) {
    if (in_quotes) {
      in_quotes = text[i] != '"';
    } else if (text[i] == '\n') {
      return i + 1;
    } else if (csv && text[i] == '"') {
      in_quotes = true;
    }
  }
  return text.size();
}

bool CsvParser::Next(CsvRow* row) {
  const size_t size = text_.size();
  while (pos_ < size && (text_[pos_] == '\n' || text_[pos_] == '\r'))
    line_ += text_[pos_++] == '\n';
  if (pos_ >= size) return false;
  row->line = line_;
  row->quoted.clear();
  row->fields.clear();
  // The common case: a line without quotes, split at its commas (memchr finds the newline,
  // any quote and each comma with vector compares).
  const char* begin = text_.data() + pos_;
  const char* end = text_.data() + size;
  const char* p = static_cast<const char*>(std::memchr(begin, '\n', end - begin));
  if (p == nullptr) p = end;
  if (std::memchr(begin, '"', p - begin)) return NextQuoted(row);
  const char* field = begin;
  for (const char* comma; (comma = static_cast<const char*>(std::memchr(field, ',', p - field)));
       field = comma + 1) {
    row->fields.emplace_back(field, comma - field);
  }
  const char* line_end = p > begin && p[-1] == '\r' ? p - 1 : p;
  row->fields.emplace_back(field, std::max(field, line_end) - field);
  row->raw = std::string_view(begin, line_end - begin);
  row->quoted.resize(row->fields.size(), 0);
  pos_ = (p < end ? p + 1 : end) - text_.data();
  line_ += p < end;
  return true;
}

bool CsvParser::NextQuoted(CsvRow* row) {
  const size_t size = text_.size();
  const size_t start = pos_;
  row->fields.clear();
  unescaped_.clear();
  std::vector<Span>& spans = spans_;
  spans.clear();
  while (true) {
    bool quoted = pos_ < size && text_[pos_] == '"';
    if (!quoted) {
      size_t begin = pos_;
      while (pos_ < size && text_[pos_] != ',' && text_[pos_] != '\n') ++pos_;
      size_t end = pos_;
      if (end > begin && text_[end - 1] == '\r' && (pos_ == size || text_[pos_] == '\n')) --end;
      spans.push_back({begin, end - begin, false});
    } else {
      size_t begin = unescaped_.size();
      ++pos_;
      while (pos_ < size) {
        char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < size && text_[pos_] == '"') {
            unescaped_.push_back('"');
            ++pos_;
            continue;
          }
          break;
        }
        line_ += c == '\n';
        unescaped_.push_back(c);
      }
      // Anything after the closing quote up to the separator is kept as written.
      while (pos_ < size && text_[pos_] != ',' && text_[pos_] != '\n') {
        if (text_[pos_] != '\r') unescaped_.push_back(text_[pos_]);
        ++pos_;
      }
      spans.push_back({begin, unescaped_.size() - begin, true});
    }
    row->quoted.push_back(quoted);
    if (pos_ == size || text_[pos_] != ',') break;
    ++pos_;
  }
  size_t end = pos_;
  if (pos_ < size) ++pos_, ++line_;  // the newline
  if (end > start && text_[end - 1] == '\r') --end;
  row->raw = text_.substr(start, end - start);
  for (const Span& s : spans) {
    row->fields.push_back(s.unescaped ? std::string_view(unescaped_).substr(s.offset, s.length)
                                      : text_.substr(s.offset, s.length));
  }
  return true;
}

void AppendCsvField(std::string_view field, std::string* out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

FileEventReader::FileEventReader(const ProjectSpec& spec, std::string source,
                                 std::vector<std::string> files, int threads)
    : spec_(spec), source_(std::move(source)), files_(std::move(files)), threads_(threads) {}

struct EventFileCursor::Impl {
  Impl(const SourceSpec& source, std::vector<std::string> required, std::vector<std::string> files,
       int threads)
      : parser(source, std::move(required), threads), files(std::move(files)) {}

  BlockParser parser;
  std::vector<std::string> files;
  size_t next_file = 0;
  std::unique_ptr<BlockReader> reader;      // of files[next_file - 1]; null between files
  std::vector<std::vector<Record>> pieces;  // of the last block, reused block after block
  size_t next_piece = 0;
};

EventFileCursor::EventFileCursor(const SourceSpec& source, std::vector<std::string> required,
                                 std::vector<std::string> files, int threads)
    : impl_(std::make_unique<Impl>(source, std::move(required), std::move(files), threads)) {}

EventFileCursor::~EventFileCursor() = default;

Result<bool> EventFileCursor::Next(std::vector<Record>** batch) {
  Impl& m = *impl_;
  while (m.next_piece == m.pieces.size()) {
    if (!m.reader) {
      if (m.next_file == m.files.size()) return false;
      const std::string& path = m.files[m.next_file++];
      m.parser.StartFile(path);
      // Records are reused only within one file: another may have another CSV header.
      m.pieces.clear();
      m.next_piece = 0;
      m.reader = std::make_unique<BlockReader>(m.parser.csv(), kBlockBytes);
      RETURN_IF_ERROR(m.reader->Open(path));
    }
    std::string_view block;
    uint64_t first_line = 0;
    ASSIGN_OR_RETURN(bool more, m.reader->Next(&block, &first_line));
    if (!more) {
      m.reader.reset();
      continue;
    }
    RETURN_IF_ERROR(m.parser.Parse(block, first_line, &m.pieces));
    m.next_piece = 0;
  }
  *batch = &m.pieces[m.next_piece++];
  return true;
}

Status FileEventReader::Scan(const std::string& source, const BatchSink& sink) {
  if (source != source_) {
    return Status::InvalidArgument(
        fmt::format("the event files hold source '{}', not '{}'", source_, source));
  }
  auto it = spec_.sources.find(source_);
  if (it == spec_.sources.end()) return Status::NotFound(fmt::format("no source '{}'", source_));
  EventFileCursor cursor(it->second, RequiredFields(spec_, source_), files_, threads_);
  std::vector<Record>* batch = nullptr;
  while (true) {
    ASSIGN_OR_RETURN(bool more, cursor.Next(&batch));
    if (!more) return Status::Ok();
    RETURN_IF_ERROR(sink(batch));
  }
}

uint64_t FileEventReader::EstimateBytes(const std::string& source) const {
  auto it = spec_.sources.find(source_);
  if (source != source_ || it == spec_.sources.end()) return 0;
  uint64_t total = 0;
  std::error_code ec;
  for (const std::string& path : files_) {
    uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec) total += size * (IsCsvPath(it->second, path) ? kCsvExpansion : kNdjsonExpansion);
  }
  return total;
}

}  // namespace freshet

#include "offline/backfill_io.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "core/thread_pool.h"
#include "core/time_util.h"
#include "format/csv.h"
#include "format/record_parser.h"

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

// Turns CSV rows of one event file into Records of its source, by the header's column names.

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
    return ThreadPool::Shared()->ParallelFor(pieces, threads_, [&](size_t k) {
      std::string_view piece = block.substr(bounds[k], bounds[k + 1] - bounds[k]);
      uint64_t line = first_line + CountLines(block.substr(0, bounds[k]));
      return ParsePiece(k, piece, line, &(*out)[k]);
    });
  }

 private:
  Status TakeHeader(std::string_view* block, uint64_t* first_line) {
    CsvParser parser(*block, *first_line);
    CsvRow header;
    if (!parser.Next(&header)) return Status::InvalidArgument(path_ + ": no header line");
    csv_parser_ = std::make_unique<CsvRecordParser>(source_, path_);
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
    ParseError error;
    if (ndjson_[k]->ParseFileBlock(piece, line, out, &error).ok()) return Status::Ok();
    error.file = path_;
    return error.ToStatus();
  }

  const SourceSpec& source_;
  std::vector<std::string> required_;
  int threads_;
  std::vector<std::unique_ptr<RecordParser>> ndjson_;  // one per thread
  std::string path_;
  bool csv_ = false;
  std::unique_ptr<CsvRecordParser> csv_parser_;  // set from the current file's header
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

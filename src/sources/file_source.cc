#include "sources/file_source.h"

#include <fmt/format.h>
#include <glob.h>

#include <algorithm>

#include "format/record_parser.h"

namespace freshet {

FileSource::FileSource(const ProjectSpec& spec, std::string name, int threads)
    : spec_(spec), source_(spec.sources.at(name)), name_(std::move(name)), threads_(threads) {}

Result<std::vector<std::string>> FileSource::MatchFiles() const {
  const std::string& pattern = source_.path;
  if (pattern.find_first_of("*?[") == std::string::npos) return std::vector<std::string>{pattern};
  glob_t matches{};
  int rc = glob(pattern.c_str(), GLOB_ERR, nullptr, &matches);
  std::vector<std::string> files;
  if (rc == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
  }
  globfree(&matches);
  if (rc != 0 && rc != GLOB_NOMATCH) {
    return Status::IoError(fmt::format("source '{}': cannot list {}", name_, pattern));
  }
  std::sort(files.begin(), files.end());  // glob sorts by the locale; offsets need bytes
  return files;
}

Status FileSource::Seek(const SourcePosition& position) {
  for (const auto& [partition, offset] : position) {
    if (partition != 0) {
      return Status::InvalidArgument(
          fmt::format("source '{}' has one partition, 0; not {}", name_, partition));
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, MatchFiles());
  cursor_ = std::make_unique<EventFileCursor>(source_, RequiredFields(spec_, name_),
                                              std::move(files), threads_);
  pending_ = nullptr;
  pending_used_ = 0;
  next_ = 0;
  at_end_ = false;
  auto it = position.find(0);
  const uint64_t target = it == position.end() ? 0 : it->second;
  // Skip to `target` a piece at a time.
  while (next_ < target) {
    ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) break;  // fewer records than the position: the files shrank; read from the end
    size_t skip = std::min<uint64_t>(pending_->size() - pending_used_, target - next_);
    pending_used_ += skip;
    next_ += skip;
  }
  return Status::Ok();
}

Result<bool> FileSource::Fill() {
  while (pending_ == nullptr || pending_used_ == pending_->size()) {
    if (at_end_) return false;
    std::vector<Record>* piece = nullptr;
    ASSIGN_OR_RETURN(bool more, cursor_->Next(&piece));
    if (!more) {
      at_end_ = true;
      end_.store(next_);
      pending_ = nullptr;
      return false;
    }
    pending_ = piece;
    pending_used_ = 0;
  }
  return true;
}

Result<bool> FileSource::Read(size_t max, SourceBatch* batch) {
  if (!cursor_) RETURN_IF_ERROR(Seek({}));
  batch->partition = 0;
  batch->first_offset = next_;
  batch->records.clear();
  while (batch->records.size() < max) {
    ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) break;
    size_t take = std::min(pending_->size() - pending_used_, max - batch->records.size());
    auto from = pending_->begin() + static_cast<ptrdiff_t>(pending_used_);
    batch->records.insert(batch->records.end(), std::make_move_iterator(from),
                          std::make_move_iterator(from + static_cast<ptrdiff_t>(take)));
    pending_used_ += take;
    next_ += take;
  }
  batch->next_offset = next_;
  return !batch->records.empty();
}

Result<SourcePosition> FileSource::EndPosition() {
  return SourcePosition{{0, std::max(end_.load(), committed_.Get()[0])}};
}

}  // namespace freshet

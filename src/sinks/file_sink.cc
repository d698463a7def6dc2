#include "sinks/file_sink.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace freshet {
namespace {

Status ErrnoStatus(const std::string& path, const char* what) {
  int err = errno;
  std::string message = fmt::format("{}: {}: {}", path, what, std::strerror(err));
  // A full disk or quota may clear up: retry later.
  if (err == ENOSPC || err == EDQUOT) return Status::Unavailable(message);
  return Status::IoError(message);
}

// Truncates `fd` after its last newline when it does not end in one (a batch torn by a crash).
Status CutTornLine(const std::string& path, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(path, "stat");
  off_t end = st.st_size;
  char block[4096];
  while (end > 0) {
    off_t begin = end > static_cast<off_t>(sizeof(block)) ? end - sizeof(block) : 0;
    ssize_t n = pread(fd, block, static_cast<size_t>(end - begin), begin);
    if (n != end - begin) return ErrnoStatus(path, "read");
    if (end == st.st_size && block[n - 1] == '\n') return Status::Ok();  // not torn
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (block[i] == '\n') {
        if (ftruncate(fd, begin + i + 1) != 0) return ErrnoStatus(path, "truncate");
        return Status::Ok();
      }
    }
    end = begin;
  }
  if (st.st_size > 0 && ftruncate(fd, 0) != 0) return ErrnoStatus(path, "truncate");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FileSink>> FileSink::Open(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(path, "open");
  Status cut = CutTornLine(path, fd);
  if (!cut.ok()) {
    ::close(fd);
    return cut;
  }
  return std::unique_ptr<FileSink>(new FileSink(path, fd));
}

FileSink::~FileSink() { ::close(fd_); }

Status FileSink::Deliver(const std::vector<PredictionRecord>& batch) {
  if (batch.empty()) return Status::Ok();
  std::string text;
  for (const PredictionRecord& record : batch) {
    AppendPredictionJson(record, &text);
    text.push_back('\n');
  }
  std::lock_guard<std::mutex> lock(mu_);
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  if (before < 0) return ErrnoStatus(path_, "seek");
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status failed = ErrnoStatus(path_, "write");
      // Leave no partial batch for the retry to append after.
      if (::ftruncate(fd_, before) != 0) return ErrnoStatus(path_, "truncate");
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) return ErrnoStatus(path_, "fsync");
  return Status::Ok();
}

}  // namespace freshet

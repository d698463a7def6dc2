// Small file helpers shared by the runtimes and the registry: reading an artifact, copying it
// durably, and the SHA-256 content hash the registry records per version and checks again
// before a version is served (OpenSSL's EVP interface, libcrypto from libssl-dev).
// Thread-safety: free functions and a per-object hasher with no shared state.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace freshet {

// Incremental SHA-256. Not copyable; one object per hash.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The digest as 64 lowercase hex digits. Call once; the object is spent afterwards.
  std::string FinishHex();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// SHA-256 of `bytes` as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view bytes);

// SHA-256 of the file's bytes (64 lowercase hex digits); kIoError when it cannot be read.
Result<std::string> Sha256File(const std::string& path);

// The whole file; kIoError when it cannot be read.
Result<std::string> ReadFileToString(const std::string& path);

// Copies `from` to `to` (created or truncated) and fsyncs the copy, so a registration that is
// acknowledged survives a crash. Returns the SHA-256 of the bytes copied (hex). kIoError on
// failure.
Result<std::string> CopyAndHashFile(const std::string& from, const std::string& to);

// fsyncs a directory so entries just created or renamed in it survive a crash.
Status SyncDir(const std::string& dir);

}  // namespace freshet

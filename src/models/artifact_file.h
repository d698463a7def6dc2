// Small file helpers shared by the runtimes and the registry: reading an artifact, copying it
// durably, and the content hash the registry records per version (FNV-1a 64: no new
// dependency, and the hash is for spotting a changed or corrupted artifact, not for security).
// Thread-safety: free functions with no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace freshet {

inline constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ull;

// FNV-1a 64 of `bytes`, continuing from `state` so a file can be hashed in chunks.
uint64_t Fnv1a64(std::string_view bytes, uint64_t state = kFnv1a64Offset);
// 16 lowercase hex digits, the form stored in ModelVersion::content_hash.
std::string HashToHex(uint64_t hash);

// The whole file; kIoError when it cannot be read.
Result<std::string> ReadFileToString(const std::string& path);

// Copies `from` to `to` (created or truncated) and fsyncs the copy, so a registration that is
// acknowledged survives a crash. Returns HashToHex(Fnv1a64(bytes copied)). kIoError on failure.
Result<std::string> CopyAndHashFile(const std::string& from, const std::string& to);

// fsyncs a directory so entries just created or renamed in it survive a crash.
Status SyncDir(const std::string& dir);

}  // namespace freshet

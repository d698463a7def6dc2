// Capped lists: a value holding the newest entries of a list, newest first, at most `capacity`,
// that grows by RocksDB merges: adding an entry is one Merge of the entry's bytes, with no read,
// and RocksDB folds the operands into the list when it reads the key and in compactions. Used by
// the `predictions` column family (Db::Open installs the operator; docs/formats.md).
//
// Value format: a 0x00 byte, then each entry as varint length + bytes, newest first. (The 0x00
// tells it from values of formats that start with a non-zero count.)
//
// Thread-safety: the functions are pure; the merge operator is stateless and thread-safe.
#pragma once

#include <rocksdb/merge_operator.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace freshet::capped_list {

// True when `value` is in the capped-list format.
bool IsCappedList(std::string_view value);

// The value of a list of `entries`, newest first (all of them: the caller caps).
std::string Encode(const std::vector<std::string>& entries);

// The entries of a capped-list value, newest first, viewing `value`; nullopt when it is
// malformed.
std::optional<std::vector<std::string_view>> Decode(std::string_view value);

// The merge operator: the operands (one new entry each, oldest first) go in front of the
// existing list's entries, keeping the newest `capacity`. A merge onto a value of another format
// fails (RocksDB reports it as corruption), so such values must be rewritten (Encode) before the
// first merge onto them.
std::shared_ptr<rocksdb::MergeOperator> NewMergeOperator(size_t capacity);

}  // namespace freshet::capped_list

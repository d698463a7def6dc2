// Entity keys: the canonical bytes that name one entity of a view, the same whether the key
// values come from a request (JSON), a record in the event log or a labels file, so "u1" read
// online, replayed from the log and looked up by a backfill all find one state. The encoding is
// part of the state's on-disk key (docs/formats.md): strings as they are, integers in decimal,
// an integral double as the integer it equals (42.0 keys like 42), other doubles in their
// shortest round-trip form, bools as true/false, null as nothing; parts joined by '\x1f'.
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"
#include "format/record.h"

namespace freshet {

// Appends one key value in the canonical form above.
void AppendEntityKeyPart(const Value& v, std::string* out);

// The key of `key_values`, in order.
std::string EncodeEntityKey(const std::vector<Value>& key_values);

// The key of a record whose key fields are the values at `key_fields`, written into `*out`
// (replacing its contents; a field index past the record's values counts as null).
void EncodeRecordKey(const Record& r, std::span<const int> key_fields, std::string* out);

// As EncodeRecordKey, but a single string key is returned as a view of the record's own value,
// with no copy; `*scratch` holds the others. The view lives as long as the record and scratch.
std::string_view RecordKeyView(const Record& r, std::span<const int> key_fields,
                               std::string* scratch);

}  // namespace freshet

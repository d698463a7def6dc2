// JSON helpers shared by the HTTP API and the CLI: writing Values with RapidJSON and reading
// simdjson elements into Values.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/value.h"

namespace freshet {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// RapidJSON's writer, plus faster ways to write the strings and member names a response repeats
// per row or column (a status, a timestamp, a feature name), which Writer::String, Key and
// RawValue go through character by character. Both work for member names too: Prefix tells
// names from values.
class ResponseWriter : public JsonWriter {
 public:
  using JsonWriter::JsonWriter;
  // A string with its quotes, known to need no escaping, copied in one go.
  void Quoted(std::string_view quoted);
  // `s` with quotes added, copied in one go when it needs no escaping (no control character,
  // quote or backslash), otherwise as String() writes it.
  void Plain(std::string_view s);
};

// The longest JSON string value a request may carry (a field of an event, an entity key):
// longer ones are refused with kInvalidArgument, so that one request cannot plant megabytes in
// the event log or the entity maps. Nesting is bounded by simdjson's default depth (1024);
// RapidJSON, whose default parser recurses, parses with kParseIterativeFlag.
inline constexpr size_t kMaxJsonStringBytes = size_t{4} << 20;

// The error for a string over kMaxJsonStringBytes.
Status StringTooLong(size_t bytes);

// Writes `v` as JSON: null, true/false, integers, doubles (non-finite as null), strings, arrays.
void WriteJsonValue(JsonWriter* w, const Value& v);

// Converts a scalar JSON element (null, bool, number, string) to a Value; arrays and objects
// are kInvalidArgument naming `what`.
Result<Value> JsonToValue(simdjson::dom::element e, std::string_view what);

}  // namespace freshet

// JSON helpers shared by the HTTP API and the CLI: writing Values with RapidJSON and reading
// simdjson elements into Values.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <string>

#include "core/status.h"
#include "core/value.h"

namespace freshet {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

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

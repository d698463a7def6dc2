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

// Writes `v` as JSON: null, true/false, integers, doubles (non-finite as null), strings, arrays.
void WriteJsonValue(JsonWriter* w, const Value& v);

// Converts a scalar JSON element (null, bool, number, string) to a Value; arrays and objects
// are kInvalidArgument naming `what`.
Result<Value> JsonToValue(simdjson::dom::element e, std::string_view what);

}  // namespace freshet

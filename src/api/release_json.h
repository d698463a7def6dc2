// JSON documents of releases and feature generations, written once for the HTTP API
// (api_deployments.cc) and the CLI (`freshet deploy`, `freshet features generations --json`).
//   release:     {"release": N, "model": {"name", "version"}, "feature_generations": {view: G},
//                 "created": RFC 3339}            (null when there is none)
//   releases:    {"deployment": D, "current": release, "previous": release}
//   generation:  {"view", "generation", "state": "building"|"caught-up"|"retired",
//                 "serving": bool, "default": bool, "deployments": [...], "created",
//                 "since": RFC 3339 or null, "applied", "log_end"}
// Thread-safety: free functions with no shared state.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "instance/instance.h"

namespace freshet {

void WriteReleaseJson(JsonWriter* w, const std::string& model, const Release* release);
std::string ReleasesJson(Instance* instance, const std::string& deployment);
// A generation is serving when it is its view's default or a release uses it.
void WriteGenerationJson(JsonWriter* w, const GenerationInfo& g,
                         const std::vector<std::string>& deployments);
std::string GenerationsJson(Instance* instance, const std::vector<GenerationInfo>& generations);

// A rebuild's `since`: epoch milliseconds, an RFC 3339 time, or a duration ("7d": that long
// before `now_ms`). kInvalidArgument naming the text otherwise.
Result<int64_t> ParseSince(std::string_view text, int64_t now_ms);

}  // namespace freshet

#include "api/release_json.h"

#include <fmt/format.h>

#include "core/parse_int.h"
#include "core/time_util.h"

namespace freshet {

void WriteReleaseJson(JsonWriter* w, const std::string& model, const Release* release) {
  if (release == nullptr) {
    w->Null();
    return;
  }
  w->StartObject();
  w->Key("release");
  w->Uint64(release->id);
  w->Key("model");
  w->StartObject();
  w->Key("name");
  w->String(model.c_str());
  w->Key("version");
  w->Int64(release->model_version);
  w->EndObject();
  w->Key("feature_generations");
  w->StartObject();
  for (const auto& [view, generation] : release->generations) {
    w->Key(view.c_str());
    w->Uint(generation);
  }
  w->EndObject();
  w->Key("created");
  w->String(FormatRfc3339Ms(release->created_ms).c_str());
  w->EndObject();
}

std::string ReleasesJson(Instance* instance, const std::string& deployment) {
  const std::string& model = instance->spec().deployments.at(deployment).model;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("deployment");
  w.String(deployment.c_str());
  w.Key("current");
  WriteReleaseJson(&w, model, instance->releases()->Current(deployment).get());
  w.Key("previous");
  WriteReleaseJson(&w, model, instance->releases()->Previous(deployment).get());
  w.EndObject();
  return buf.GetString();
}

void WriteGenerationJson(JsonWriter* w, const GenerationInfo& g,
                         const std::vector<std::string>& deployments) {
  w->StartObject();
  w->Key("view");
  w->String(g.view.c_str());
  w->Key("generation");
  w->Uint(g.generation);
  w->Key("state");
  std::string_view state = GenerationStateName(g.state);
  w->String(state.data(), static_cast<rapidjson::SizeType>(state.size()));
  w->Key("serving");
  w->Bool(g.state != GenerationState::kRetired && (g.is_default || !deployments.empty()));
  w->Key("default");
  w->Bool(g.is_default);
  w->Key("deployments");
  w->StartArray();
  for (const std::string& d : deployments) w->String(d.c_str());
  w->EndArray();
  w->Key("created");
  w->String(FormatRfc3339Ms(g.created_ms).c_str());
  w->Key("since");
  if (g.since_ms == INT64_MIN) {
    w->Null();
  } else {
    w->String(FormatRfc3339Ms(g.since_ms).c_str());
  }
  w->Key("applied");
  w->Uint64(g.applied);
  w->Key("log_end");
  w->Uint64(g.log_end);
  w->EndObject();
}

std::string GenerationsJson(Instance* instance, const std::vector<GenerationInfo>& generations) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("generations");
  w.StartArray();
  for (const GenerationInfo& g : generations) {
    WriteGenerationJson(&w, g, instance->releases()->Using(g.view, g.generation));
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

Result<int64_t> ParseSince(std::string_view text, int64_t now_ms) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    return ParseInt64(text, "since");
  }
  if (Result<int64_t> ago = ParseDurationMs(text); ago.ok()) return now_ms - *ago;
  if (Result<int64_t> ms = ParseRfc3339Ms(text); ms.ok()) return ms;
  return Status::InvalidArgument(fmt::format(
      "since: '{}' is not epoch milliseconds, an RFC 3339 time or a duration (7d)", text));
}

}  // namespace freshet

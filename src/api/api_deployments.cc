// Releases and feature generations over HTTP (the same operations as `freshet deploy` and
// `freshet features generations|rebuild|retire`), with the documents of api/release_json.h:
//   GET  /v1/deployments/{deployment}/release     current and previous release
//   POST /v1/deployments/{deployment}/release     {"model_version"?: N, "generation"?: G}
//   POST /v1/deployments/{deployment}/rollback    back to the previous release
//   GET  /v1/generations[?view=V]                 every generation, with progress
//   POST /v1/generations/{view}/rebuild           {"since"?: epoch ms | RFC 3339 | duration}
//   DELETE /v1/generations/{view}/{generation}    retire: frees the generation's state
// Request bodies are JSON objects (an empty body reads as {}); an unknown member is refused.
#include <fmt/format.h>
#include <simdjson.h>

#include <set>

#include "api/api.h"
#include "api/release_json.h"
#include "core/parse_int.h"
#include "server/json_error.h"

namespace freshet {
namespace {

// The members of a small JSON object body, checked against `known`. An empty body is {}.
Result<std::map<std::string, simdjson::dom::element>> Members(
    simdjson::dom::parser* parser, const std::string& body,
    const std::set<std::string_view>& known) {
  std::map<std::string, simdjson::dom::element> out;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  simdjson::dom::object object;
  if (parser->parse(body).get(object)) {
    return Status::InvalidArgument("request body: expected a JSON object");
  }
  for (auto [key, value] : object) {
    if (!known.count(key)) {
      return Status::InvalidArgument(fmt::format("unknown member \"{}\"", key));
    }
    out.emplace(std::string(key), value);
  }
  return out;
}

Result<int64_t> PositiveInt(const std::map<std::string, simdjson::dom::element>& members,
                            const std::string& key) {
  int64_t v = 0;
  if (members.at(key).get(v) || v <= 0 || v > UINT32_MAX) {
    return Status::InvalidArgument(fmt::format("{}: expected a positive integer", key));
  }
  return v;
}

// The deployment named in the path, or a 404 answered.
const std::string* Deployment(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* name = req.PathParam("deployment");
  if (!instance->spec().deployments.count(*name)) {
    SetError(res, Status::NotFound(fmt::format("unknown deployment '{}'", *name)));
    return nullptr;
  }
  return name;
}

void GetRelease(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  if (const std::string* d = Deployment(instance, req, res)) res->body = ReleasesJson(instance, *d);
}

Status DeployFromBody(Instance* instance, const std::string& deployment, const std::string& body) {
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(auto members, Members(&parser, body, {"model_version", "generation"}));
  std::optional<int64_t> version;
  std::optional<uint32_t> generation;
  if (members.count("model_version")) {
    ASSIGN_OR_RETURN(version, PositiveInt(members, "model_version"));
  }
  if (members.count("generation")) {
    ASSIGN_OR_RETURN(int64_t g, PositiveInt(members, "generation"));
    generation = static_cast<uint32_t>(g);
  }
  return instance->Deploy(deployment, version, generation).status();
}

void PostRelease(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* d = Deployment(instance, req, res);
  if (d == nullptr) return;
  Status st = DeployFromBody(instance, *d, req.body);
  if (!st.ok()) return SetError(res, st);
  res->body = ReleasesJson(instance, *d);
}

void Rollback(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* d = Deployment(instance, req, res);
  if (d == nullptr) return;
  Status st = instance->RollbackRelease(*d).status();
  if (!st.ok()) return SetError(res, st);
  res->body = ReleasesJson(instance, *d);
}

void ListGenerations(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* view = req.QueryParam("view");
  auto generations = instance->generations()->List(view ? *view : "");
  if (!generations.ok()) return SetError(res, generations.status());
  res->body = GenerationsJson(instance, *generations);
}

Result<GenerationInfo> PostRebuild(Instance* instance, const std::string& view,
                                   const std::string& body) {
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(auto members, Members(&parser, body, {"since"}));
  std::optional<int64_t> since;
  if (members.count("since")) {
    const simdjson::dom::element e = members.at("since");
    int64_t ms = 0;
    std::string_view text;
    if (!e.get(ms)) {
      since = ms;
    } else if (!e.get(text)) {
      ASSIGN_OR_RETURN(since, ParseSince(text, instance->clock()->NowMs()));
    } else {
      return Status::InvalidArgument("since: expected epoch milliseconds or a string");
    }
  }
  return instance->generations()->Rebuild(view, since);
}

void Rebuild(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto g = PostRebuild(instance, *req.PathParam("view"), req.body);
  if (!g.ok()) return SetError(res, g.status());
  res->status = 202;  // built in the background
  res->body = GenerationsJson(instance, {*g});
}

void Retire(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string& view = *req.PathParam("view");
  auto generation = ParseInt64InRange(*req.PathParam("generation"), "generation", 1, UINT32_MAX);
  if (!generation.ok()) return SetError(res, generation.status());
  Status st = instance->RetireGeneration(view, static_cast<uint32_t>(*generation));
  if (!st.ok()) return SetError(res, st);
  auto generations = instance->generations()->List(view);
  if (!generations.ok()) return SetError(res, generations.status());
  res->body = GenerationsJson(instance, *generations);
}

}  // namespace

Status RegisterDeploymentRoutes(Router* router, Instance* instance) {
  using Handler = void (*)(Instance*, const HttpRequest&, HttpResponse*);
  const std::vector<std::tuple<const char*, const char*, Handler>> routes = {
      {"GET", "/v1/deployments/{deployment}/release", &GetRelease},
      {"POST", "/v1/deployments/{deployment}/release", &PostRelease},
      {"POST", "/v1/deployments/{deployment}/rollback", &Rollback},
      {"GET", "/v1/generations", &ListGenerations},
      {"POST", "/v1/generations/{view}/rebuild", &Rebuild},
      {"DELETE", "/v1/generations/{view}/{generation}", &Retire},
  };
  for (const auto& [method, path, handler] : routes) {
    // A release loads and warms its model version; a rebuild writes a generation.
    Runs runs = std::string_view(method) == "GET" ? Runs::kOnIoThread : Runs::kOffIoThread;
    RETURN_IF_ERROR(router->Add(
        method, path,
        [instance, handler](const HttpRequest& req, HttpResponse* res) {
          handler(instance, req, res);
        },
        runs));
  }
  return Status::Ok();
}

}  // namespace freshet

// The model registry over HTTP: the same operations as `freshet models`, with the documents of
// api/api_json.h. Request bodies are JSON objects; an unknown member is refused (so a misspelt
// option is not silently ignored), and every error names the member.
#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <set>

#include "api/api.h"
#include "api/api_json.h"
#include "models/mlflow_model.h"
#include "server/json_error.h"
#include "serving/model_signature.h"

namespace freshet {
namespace {

// Reads a request body's members, each by its expected type; the first problem sticks.
class Body {
 public:
  // An empty body reads as {}.
  explicit Body(const std::string& text) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      status_ = Status::Ok();
      empty_ = true;
      return;
    }
    if (parser_.parse(text).get(doc_) || !doc_.is_object()) {
      status_ = Status::InvalidArgument("request body: expected a JSON object");
    }
  }

  // Refuses members other than `known`.
  Body& Allow(const std::vector<std::string_view>& known) {
    if (!status_.ok() || empty_) return *this;
    std::set<std::string_view> names(known.begin(), known.end());
    for (auto [key, value] : doc_.get_object()) {
      if (!names.count(key)) {
        status_ = Status::InvalidArgument(fmt::format("unknown member \"{}\"", key));
        return *this;
      }
    }
    return *this;
  }

  Body& String(const char* key, std::string* out) {
    return Read(key, "a string", [&](simdjson::dom::element e) {
      std::string_view s;
      if (e.get(s)) return false;
      out->assign(s);
      return true;
    });
  }
  Body& Int(const char* key, int64_t* out) {
    return Read(key, "an integer", [&](simdjson::dom::element e) { return !e.get(*out); });
  }
  Body& Bool(const char* key, bool* out) {
    return Read(key, "true or false", [&](simdjson::dom::element e) { return !e.get(*out); });
  }
  Body& Strings(const char* key, std::map<std::string, std::string>* out) {
    return Read(key, "an object of strings", [&](simdjson::dom::element e) {
      simdjson::dom::object o;
      if (e.get(o)) return false;
      for (auto [k, v] : o) {
        std::string_view s;
        if (v.get(s)) return false;
        (*out)[std::string(k)] = std::string(s);
      }
      return true;
    });
  }
  Body& Numbers(const char* key, std::map<std::string, double>* out) {
    return Read(key, "an object of numbers", [&](simdjson::dom::element e) {
      simdjson::dom::object o;
      if (e.get(o)) return false;
      for (auto [k, v] : o) {
        double d = 0;
        if (v.get(d)) return false;
        (*out)[std::string(k)] = d;
      }
      return true;
    });
  }
  Body& List(const char* key, std::vector<std::string>* out) {
    return Read(key, "an array of strings", [&](simdjson::dom::element e) {
      simdjson::dom::array a;
      if (e.get(a)) return false;
      for (simdjson::dom::element item : a) {
        std::string_view s;
        if (item.get(s)) return false;
        out->emplace_back(s);
      }
      return true;
    });
  }

  // Fails with "missing member" unless `key` was present.
  Body& Require(const char* key) {
    if (status_.ok() && (empty_ || doc_[key].error())) {
      status_ = Status::InvalidArgument(fmt::format("missing member \"{}\"", key));
    }
    return *this;
  }

  const Status& status() const { return status_; }

 private:
  Body& Read(const char* key, std::string_view expected,
             const std::function<bool(simdjson::dom::element)>& read) {
    if (!status_.ok() || empty_) return *this;
    simdjson::dom::element e;
    if (doc_[key].get(e)) return *this;  // absent: keeps the default
    if (!read(e)) {
      status_ = Status::InvalidArgument(fmt::format("member \"{}\": expected {}", key, expected));
    }
    return *this;
  }

  simdjson::dom::parser parser_;
  simdjson::dom::element doc_;
  Status status_;
  bool empty_ = false;
};

// Writes `status` as the error when it is not ok; true when it was ok.
bool Ok(const Status& status, HttpResponse* res) {
  if (!status.ok()) SetError(res, status);
  return status.ok();
}

const std::string& Name(const HttpRequest& req) { return *req.PathParam("name"); }

// A version number path segment; kInvalidArgument naming it otherwise.
Result<int64_t> VersionNumber(const std::string& text) {
  int64_t version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || version < 1) {
    return Status::InvalidArgument(fmt::format("version '{}' is not a version number", text));
  }
  return version;
}

// The members a registration shares with `freshet models register`'s flags, and `more`.
std::vector<std::string_view> RegistrationMembers(std::initializer_list<std::string_view> more) {
  std::vector<std::string_view> members = {"description",     "metrics",       "params",  "tags",
                                           "feature_service", "training_data", "holdout", "by"};
  members.insert(members.end(), more.begin(), more.end());
  return members;
}

Status ReadRegistration(Body* body, const ProjectSpec& spec, RegisterOptions* options) {
  std::string feature_service, by;
  body->String("description", &options->description)
      .Numbers("metrics", &options->metrics)
      .Strings("params", &options->params)
      .Strings("tags", &options->tags)
      .String("feature_service", &feature_service)
      .String("training_data", &options->lineage.training_data)
      .String("holdout", &options->lineage.holdout)
      .String("by", &by);
  RETURN_IF_ERROR(body->status());
  if (!by.empty()) options->lineage.created_by = by;
  if (!feature_service.empty()) RETURN_IF_ERROR(BindFeatureService(spec, feature_service, options));
  return Status::Ok();
}

// Registers and answers 201 with the version document.
void Registered(Instance* instance, const std::string& name, Result<ModelVersion> version,
                HttpResponse* res) {
  if (!Ok(version.status(), res)) return;
  auto model = instance->registry()->Get(name);
  if (!Ok(model.status(), res)) return;
  res->status = 201;
  res->body = ModelVersionToJson(*version, model->aliases);
}

// POST /v1/models/{name}/versions {"artifact_path", "runtime"?, + registration members}. The
// artifact is a path on the server's machine (the API binds loopback).
void Register(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  Body body(req.body);
  body.Allow(RegistrationMembers({"artifact_path", "runtime"})).Require("artifact_path");
  std::string artifact, runtime;
  body.String("artifact_path", &artifact).String("runtime", &runtime);
  RegisterOptions options;
  if (!Ok(ReadRegistration(&body, instance->spec(), &options), res)) return;
  if (runtime.empty()) {
    auto it = instance->spec().models.find(Name(req));
    if (it == instance->spec().models.end()) {
      SetError(res, Status::InvalidArgument(fmt::format(
                        "member \"runtime\": required, since freshet.yaml has no model '{}'",
                        Name(req))));
      return;
    }
    runtime = it->second.runtime;
  }
  Registered(instance, Name(req),
             instance->registry()->Register(Name(req), artifact, runtime, options), res);
}

// POST /v1/models/{name}/import-mlflow {"dir", + registration members}.
void ImportMlflow(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  Body body(req.body);
  body.Allow(RegistrationMembers({"dir"})).Require("dir");
  std::string dir;
  body.String("dir", &dir);
  if (!Ok(body.status(), res)) return;
  auto model = ReadMlflowModel(dir);
  if (!Ok(model.status(), res)) return;
  RegisterOptions options = ToRegisterOptions(*model);
  if (!Ok(ReadRegistration(&body, instance->spec(), &options), res)) return;
  Registered(
      instance, Name(req),
      instance->registry()->Register(Name(req), model->artifact_path, model->runtime, options),
      res);
}

void ListModels(Instance* instance, HttpResponse* res) {
  auto models = instance->registry()->List();
  if (!Ok(models.status(), res)) return;
  res->body = ModelListToJson(*models);
}

void ShowModel(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto model = instance->registry()->Get(Name(req));
  if (!Ok(model.status(), res)) return;
  res->body = ModelInfoToJson(*model);
}

// GET /v1/models/{name}/versions/{version}: a number, an alias or "latest".
void ShowVersion(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto model = instance->registry()->Get(Name(req));
  if (!Ok(model.status(), res)) return;
  auto version = instance->registry()->Resolve(Name(req), *req.PathParam("version"));
  if (!Ok(version.status(), res)) return;
  res->body = ModelVersionToJson(*version, model->aliases);
}

void DeleteVersion(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  auto version = VersionNumber(*req.PathParam("version"));
  if (!Ok(version.status(), res)) return;
  if (!Ok(instance->registry()->DeleteVersion(Name(req), *version,
                                              DeploymentUses(instance->spec(), Name(req))),
          res)) {
    return;
  }
  res->body = DeletedVersionToJson(Name(req), *version);
}

// Answers with the newest alias change of the model (the one just made).
void AliasChanged(Instance* instance, const std::string& name, HttpResponse* res) {
  auto model = instance->registry()->Get(name);
  if (!Ok(model.status(), res)) return;
  res->body = AliasChangeToJson(model->alias_history.back());
}

// PUT /v1/models/{name}/aliases/{alias} {"version": N, "by"?}
void SetAlias(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  Body body(req.body);
  int64_t version = 0;
  std::string by;
  body.Allow({"version", "by"}).Require("version").Int("version", &version).String("by", &by);
  if (!Ok(body.status(), res)) return;
  Status st =
      instance->registry()->SetAlias(Name(req), *req.PathParam("alias"), version, by,
                                     instance->predictor()->router()->CheckAndWarm(Name(req)));
  if (Ok(st, res)) AliasChanged(instance, Name(req), res);
}

// DELETE /v1/models/{name}/aliases/{alias}
void RemoveAlias(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string* by = req.QueryParam("by");
  Status st = instance->registry()->RemoveAlias(Name(req), *req.PathParam("alias"), by ? *by : "");
  if (Ok(st, res)) AliasChanged(instance, Name(req), res);
}

// POST /v1/models/{name}/promote {"version", "metric"?, "force"?, "by"?}
void Promote(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  Body body(req.body);
  int64_t version = 0;
  PromoteOptions options;
  body.Allow({"version", "metric", "force", "by"})
      .Require("version")
      .Int("version", &version)
      .String("metric", &options.metric)
      .Bool("force", &options.force)
      .String("by", &options.by);
  if (!Ok(body.status(), res)) return;
  auto result = instance->registry()->Promote(
      Name(req), version, options, instance->predictor()->router()->CheckAndWarm(Name(req)));
  if (!Ok(result.status(), res)) return;
  res->body = PromoteResultToJson(Name(req), *result);
}

// POST /v1/models/{name}/rollback {"by"?}
void Rollback(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  Body body(req.body);
  std::string by;
  body.Allow({"by"}).String("by", &by);
  if (!Ok(body.status(), res)) return;
  auto change = instance->registry()->Rollback(
      Name(req), by, instance->predictor()->router()->CheckAndWarm(Name(req)));
  if (!Ok(change.status(), res)) return;
  res->body = AliasChangeToJson(*change);
}

// POST /v1/models/{name}/tags {"version"?, "set"?: {k: v}, "remove"?: [k]}: answers the model
// document, or the version's when "version" is given.
void Tags(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  Body body(req.body);
  int64_t version = 0;
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
  body.Allow({"version", "set", "remove"})
      .Int("version", &version)
      .Strings("set", &set)
      .List("remove", &remove);
  if (!Ok(body.status(), res)) return;
  if (!Ok(instance->registry()->UpdateTags(Name(req), version, set, remove), res)) return;
  auto model = instance->registry()->Get(Name(req));
  if (!Ok(model.status(), res)) return;
  if (version == 0) {
    res->body = ModelInfoToJson(*model);
    return;
  }
  auto v = instance->registry()->GetVersion(Name(req), version);
  if (!Ok(v.status(), res)) return;
  res->body = ModelVersionToJson(*v, model->aliases);
}

}  // namespace

Status RegisterModelRoutes(Router* router, Instance* instance) {
  using Fn = void (*)(Instance*, const HttpRequest&, HttpResponse*);
  auto bind = [instance](Fn fn) {
    return [instance, fn](const HttpRequest& req, HttpResponse* res) { fn(instance, req, res); };
  };
  RETURN_IF_ERROR(router->Add(
      "GET", "/v1/models",
      [instance](const HttpRequest&, HttpResponse* res) { ListModels(instance, res); }));
  const std::pair<const char*, const char*> kRoutes[] = {
      {"GET", "/v1/models/{name}"},
      {"POST", "/v1/models/{name}/versions"},
      {"POST", "/v1/models/{name}/import-mlflow"},
      {"GET", "/v1/models/{name}/versions/{version}"},
      {"DELETE", "/v1/models/{name}/versions/{version}"},
      {"PUT", "/v1/models/{name}/aliases/{alias}"},
      {"DELETE", "/v1/models/{name}/aliases/{alias}"},
      {"POST", "/v1/models/{name}/promote"},
      {"POST", "/v1/models/{name}/rollback"},
      {"POST", "/v1/models/{name}/tags"},
  };
  const Fn kHandlers[] = {ShowModel, Register,    ImportMlflow, ShowVersion, DeleteVersion,
                          SetAlias,  RemoveAlias, Promote,      Rollback,    Tags};
  for (size_t i = 0; i < std::size(kRoutes); ++i) {
    // Every change of the registry is synced to disk; reads are not.
    Runs runs =
        std::string_view(kRoutes[i].first) == "GET" ? Runs::kOnIoThread : Runs::kOffIoThread;
    RETURN_IF_ERROR(router->Add(kRoutes[i].first, kRoutes[i].second, bind(kHandlers[i]), runs));
  }
  return Status::Ok();
}

}  // namespace freshet

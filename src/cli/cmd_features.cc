#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "core/json.h"
#include "core/time_util.h"
#include "instance/instance.h"
#include "store/feature_json.h"

namespace freshet::cli {
namespace {

struct FeaturesFlags {
  ProjectFlags project;
  std::vector<std::string> features;
  std::string service;
  std::vector<std::string> entities;  // key=v1,v2
  std::string as_of;
  std::string server;
  HttpClientOptions http;
};

// Builds the same JSON body the HTTP API takes, so both paths share one parser.
Result<std::string> RequestBody(const FeaturesFlags& f) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (!f.service.empty()) {
    w.Key("feature_service");
    w.String(f.service.c_str());
  } else {
    w.Key("features");
    w.StartArray();
    for (const std::string& ref : f.features) w.String(ref.c_str());
    w.EndArray();
  }
  w.Key("entities");
  w.StartObject();
  for (const std::string& e : f.entities) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(fmt::format("--entity '{}': expected KEY=V1[,V2...]", e));
    }
    w.Key(e.substr(0, eq).c_str());
    w.StartArray();
    std::string_view rest = std::string_view(e).substr(eq + 1);
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string item(rest.substr(0, comma));
      w.String(item.c_str());
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    w.EndArray();
  }
  w.EndObject();
  if (!f.as_of.empty()) {
    w.Key("as_of");
    w.String(f.as_of.c_str());
  }
  w.EndObject();
  return std::string(buf.GetString());
}

void PrintTable(const FeatureRequest& request, const FeatureTable& table) {
  for (size_t r = 0; r < table.num_rows; ++r) {
    std::string entity;
    for (const std::string& key : request.entity_order) {
      entity += fmt::format("{}{}={}", entity.empty() ? "" : " ", key,
                            request.entities.at(key)[r].ToString());
    }
    fmt::print("{}\n", entity);
    for (size_t c = 0; c < table.features.size(); ++c) {
      fmt::print("  {:<40} {:<24} {}\n", table.features[c].ToString(),
                 table.values[c][r].ToString(), ReadStatusName(table.statuses[c][r]));
    }
  }
}

Status Run(const FeaturesFlags& f) {
  if (f.features.empty() == f.service.empty()) {
    return Status::InvalidArgument("give either --features or --service");
  }
  ASSIGN_OR_RETURN(std::string body, RequestBody(f));
  if (!f.server.empty()) {
    ASSIGN_OR_RETURN(HttpReply reply, HttpCall(f.server, "POST", "/v1/features", body, {}, f.http));
    RETURN_IF_ERROR(reply.ToStatus());
    fmt::print("{}\n", reply.body);
    return Status::Ok();
  }
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  ASSIGN_OR_RETURN(auto instance, Instance::Open(options));
  ASSIGN_OR_RETURN(FeatureRequest request, ParseFeatureRequest(body, *instance->features()));
  int64_t as_of = request.as_of_ms.value_or(instance->clock()->NowMs());
  ASSIGN_OR_RETURN(FeatureTable table,
                   instance->features()->Get(request.features, request.entities, as_of));
  if (f.project.json) {
    fmt::print("{}\n", FeatureTableToJson(request, table, as_of));
  } else {
    fmt::print("as of {}\n", FormatRfc3339Ms(as_of));
    PrintTable(request, table);
  }
  return Status::Ok();
}

}  // namespace

void RegisterFeatures(CLI::App* app) {
  auto f = std::make_shared<FeaturesFlags>();
  CLI::App* features = app->add_subcommand("features", "Read online features");
  features->require_subcommand(1);
  CLI::App* get = features->add_subcommand("get", "Read features of entities now (or --as-of)");
  f->project.AddTo(get);
  get->add_option("--features,-f", f->features, "view:feature references")->delimiter(',');
  get->add_option("--service", f->service, "A feature service instead of --features");
  get->add_option("--entity,-e", f->entities, "KEY=V1[,V2...] (repeat for composite keys)")
      ->required();
  get->add_option("--as-of", f->as_of, "Read time: epoch ms or RFC 3339 (Default: now)");
  get->add_option("--server", f->server, "Read through a running server (http://127.0.0.1:PORT)");
  AddHttpClientFlags(get, &f->http);
  get->callback([f] {
    Status st = Run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli

#include <fmt/format.h>

#include <functional>
#include <optional>

#include "api/release_json.h"
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
  options.build_generations_in_background = false;  // a read; builds wait for `serve`
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

// `features generations|rebuild|retire`: one view's generations, locally or through a server.
struct GenerationFlags {
  ProjectFlags project;
  std::string view;
  uint32_t generation = 0;
  std::string since;
  std::string server;
  HttpClientOptions http;
};

Result<std::unique_ptr<Instance>> OpenLocal(const GenerationFlags& f) {
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  options.build_generations_in_background = false;  // rebuild builds on this thread
  return Instance::Open(options);
}

Status CallServer(const GenerationFlags& f, const std::string& method, const std::string& target,
                  const std::string& body) {
  ASSIGN_OR_RETURN(HttpReply reply, HttpCall(f.server, method, target, body, {}, f.http));
  RETURN_IF_ERROR(reply.ToStatus());
  fmt::print("{}\n", reply.body);
  return Status::Ok();
}

Status PrintGenerations(Instance* instance, const GenerationFlags& f) {
  ASSIGN_OR_RETURN(std::vector<GenerationInfo> generations, instance->generations()->List(f.view));
  if (f.project.json) {
    fmt::print("{}\n", GenerationsJson(instance, generations));
    return Status::Ok();
  }
  fmt::print("{:<24} {:>4} {:<10} {:<8} {:<20} {}\n", "VIEW", "GEN", "STATE", "SERVING", "PROGRESS",
             "SINCE");
  for (const GenerationInfo& g : generations) {
    std::vector<std::string> users = instance->releases()->Using(g.view, g.generation);
    std::string serving = g.state == GenerationState::kRetired ? "-"
                          : !users.empty() ? fmt::format("{}", fmt::join(users, ","))
                          : g.is_default   ? "default"
                                           : "-";
    std::string progress =
        g.state == GenerationState::kRetired ? "-" : fmt::format("{}/{}", g.applied, g.log_end);
    fmt::print("{:<24} {:>4} {:<10} {:<8} {:<20} {}\n", g.view, g.generation,
               GenerationStateName(g.state), serving, progress,
               g.since_ms == INT64_MIN ? "all kept" : FormatRfc3339Ms(g.since_ms));
  }
  return Status::Ok();
}

Status ListGenerations(const GenerationFlags& f) {
  if (!f.server.empty()) {
    return CallServer(f, "GET",
                      f.view.empty() ? "/v1/generations" : "/v1/generations?view=" + f.view, "");
  }
  ASSIGN_OR_RETURN(auto instance, OpenLocal(f));
  return PrintGenerations(instance.get(), f);
}

Status Rebuild(const GenerationFlags& f) {
  if (!f.server.empty()) {
    std::string body = f.since.empty() ? "{}" : fmt::format("{{\"since\":\"{}\"}}", f.since);
    return CallServer(f, "POST", fmt::format("/v1/generations/{}/rebuild", f.view), body);
  }
  ASSIGN_OR_RETURN(auto instance, OpenLocal(f));
  std::optional<int64_t> since;
  if (!f.since.empty()) {
    ASSIGN_OR_RETURN(since, ParseSince(f.since, instance->clock()->NowMs()));
  }
  ASSIGN_OR_RETURN(GenerationInfo g, instance->generations()->Rebuild(f.view, since));
  const int64_t retention =
      instance->spec().sources.at(instance->spec().feature_views.at(f.view).source).retention_ms;
  fmt::print("building generation {} of '{}' from {} (retention: {})\n", g.generation, f.view,
             g.since_ms == INT64_MIN ? "the start of the log" : FormatRfc3339Ms(g.since_ms),
             retention > 0 ? FormatDurationMs(retention) : "keep everything");
  RETURN_IF_ERROR(instance->generations()->BuildPending());
  return PrintGenerations(instance.get(), f);
}

Status Retire(const GenerationFlags& f) {
  if (!f.server.empty()) {
    return CallServer(f, "DELETE", fmt::format("/v1/generations/{}/{}", f.view, f.generation), "");
  }
  ASSIGN_OR_RETURN(auto instance, OpenLocal(f));
  RETURN_IF_ERROR(instance->RetireGeneration(f.view, f.generation));
  return PrintGenerations(instance.get(), f);
}

void AddGenerationCommand(CLI::App* features, const std::string& name, const std::string& help,
                          Status (*run)(const GenerationFlags&),
                          const std::function<void(CLI::App*, GenerationFlags*)>& options) {
  auto f = std::make_shared<GenerationFlags>();
  CLI::App* cmd = features->add_subcommand(name, help);
  f->project.AddTo(cmd);
  options(cmd, f.get());
  cmd->add_option("--server", f->server, "Through a running server (http://127.0.0.1:PORT)");
  AddHttpClientFlags(cmd, &f->http);
  cmd->callback([f, run] {
    Status st = run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

void RegisterGenerations(CLI::App* features) {
  AddGenerationCommand(features, "generations",
                       "List feature generations (building, caught-up, serving, retired)",
                       &ListGenerations, [](CLI::App* cmd, GenerationFlags* f) {
                         cmd->add_option("view", f->view, "Feature view (Default: all)");
                       });
  AddGenerationCommand(
      features, "rebuild", "Build a new generation of a view from the retained event log", &Rebuild,
      [](CLI::App* cmd, GenerationFlags* f) {
        cmd->add_option("view", f->view, "Feature view")->required();
        cmd->add_option("--since", f->since,
                        "Replay events from: epoch ms, RFC 3339 or a duration ago (7d); bounded "
                        "by the source's retention (Default: all the log keeps)");
      });
  AddGenerationCommand(features, "retire", "Free a generation's state (not while deployed)",
                       &Retire, [](CLI::App* cmd, GenerationFlags* f) {
                         cmd->add_option("view", f->view, "Feature view")->required();
                         cmd->add_option("generation", f->generation, "Generation number")
                             ->required()
                             ->check(CLI::PositiveNumber);
                       });
}

}  // namespace

void RegisterFeatures(CLI::App* app) {
  auto f = std::make_shared<FeaturesFlags>();
  CLI::App* features =
      app->add_subcommand("features", "Read online features; manage feature generations");
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
  RegisterGenerations(features);
}

}  // namespace freshet::cli

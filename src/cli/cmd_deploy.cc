// `freshet deploy DEPLOYMENT [--model-version N] [--generation G] | --rollback`: switches the
// deployment's release (a model version and the feature generation of each view of its
// service) at once, in the data directory or through a running server (--server).
#include <fmt/format.h>

#include "api/release_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "instance/instance.h"

namespace freshet::cli {
namespace {

struct DeployFlags {
  ProjectFlags project;
  std::string deployment;
  int64_t model_version = 0;  // 0: the alias's
  uint32_t generation = 0;    // 0: the newest caught-up of each view
  bool rollback = false;
  std::string server;
  HttpClientOptions http;
};

std::string Describe(const std::string& model, const Release* r) {
  if (r == nullptr) return "none";
  std::string features;
  for (const auto& [view, generation] : r->generations) {
    features += fmt::format(" {}@g{}", view, generation);
  }
  return fmt::format("release {}: model {} v{}, features{}", r->id, model, r->model_version,
                     features.empty() ? " (tables only)" : features);
}

Status Run(const DeployFlags& f) {
  if (f.rollback && (f.model_version != 0 || f.generation != 0)) {
    return Status::InvalidArgument("--rollback takes no --model-version or --generation");
  }
  if (!f.server.empty()) {
    std::string body = "{}";
    if (!f.rollback) {
      body = "{";
      if (f.model_version != 0) body += fmt::format("\"model_version\":{}", f.model_version);
      if (f.generation != 0) {
        body += fmt::format("{}\"generation\":{}", f.model_version != 0 ? "," : "", f.generation);
      }
      body += "}";
    }
    std::string target =
        fmt::format("/v1/deployments/{}/{}", f.deployment, f.rollback ? "rollback" : "release");
    ASSIGN_OR_RETURN(HttpReply reply, HttpCall(f.server, "POST", target, body, {}, f.http));
    RETURN_IF_ERROR(reply.ToStatus());
    fmt::print("{}\n", reply.body);
    return Status::Ok();
  }
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  options.build_generations_in_background = false;
  ASSIGN_OR_RETURN(auto instance, Instance::Open(options));
  if (f.rollback) {
    RETURN_IF_ERROR(instance->RollbackRelease(f.deployment).status());
  } else {
    std::optional<int64_t> version;
    std::optional<uint32_t> generation;
    if (f.model_version != 0) version = f.model_version;
    if (f.generation != 0) generation = f.generation;
    RETURN_IF_ERROR(instance->Deploy(f.deployment, version, generation).status());
  }
  if (f.project.json) {
    fmt::print("{}\n", ReleasesJson(instance.get(), f.deployment));
    return Status::Ok();
  }
  const std::string& model = instance->spec().deployments.at(f.deployment).model;
  fmt::print("{}: {}\n  previous: {}\n", f.deployment,
             Describe(model, instance->releases()->Current(f.deployment).get()),
             Describe(model, instance->releases()->Previous(f.deployment).get()));
  return Status::Ok();
}

}  // namespace

void RegisterDeploy(CLI::App* app) {
  auto f = std::make_shared<DeployFlags>();
  CLI::App* cmd = app->add_subcommand(
      "deploy", "Switch a deployment's release: model version and feature generations at once");
  f->project.AddTo(cmd);
  cmd->add_option("deployment", f->deployment, "Deployment name")->required();
  cmd->add_option("--model-version", f->model_version,
                  "Model version (Default: the version the deployment's alias names)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--generation", f->generation,
                  "Feature generation for its view (Default: each view's newest caught-up)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--rollback", f->rollback, "Switch back to the previous release");
  cmd->add_option("--server", f->server, "Switch through a running server (http://127.0.0.1:PORT)");
  AddHttpClientFlags(cmd, &f->http);
  cmd->callback([f] {
    Status st = Run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli

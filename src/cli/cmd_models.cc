#include <fmt/format.h>

#include <charconv>

#include "api/api_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "core/time_util.h"
#include "instance/instance.h"

namespace freshet::cli {
namespace {

struct ModelsFlags {
  ProjectFlags project;
  std::string name;
  std::string file;
  std::string runtime;
  std::string alias;
  int64_t version = 0;
  std::vector<std::string> metrics;  // key=value
  std::string description;
};

Result<std::unique_ptr<Instance>> OpenInstance(const ModelsFlags& f) {
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  return Instance::Open(options);
}

// --json prints the API's encoding (api/api_json.h): the same document GET /v1/models/{name}
// answers. `aliases` are the model's aliases.
void PrintVersion(const ModelVersion& v, const std::map<std::string, int64_t>& aliases, bool json) {
  if (json) {
    fmt::print("{}\n", ModelVersionToJson(v, aliases));
    return;
  }
  std::string names;
  for (const auto& [alias, version] : aliases) {
    if (version == v.version) names += fmt::format(" {}", alias);
  }
  fmt::print("{} v{}  runtime={}  created={}  hash={}{}\n  artifact: {}\n", v.name, v.version,
             v.runtime, FormatRfc3339Ms(v.created_ms), v.content_hash,
             names.empty() ? "" : "  aliases:" + names, v.artifact_path);
  for (const auto& [k, m] : v.metrics) fmt::print("  metric {} = {}\n", k, m);
}

Status Register(const ModelsFlags& f) {
  // Flags first: a bad one changes nothing, not even the data directory.
  RegisterOptions options;
  options.description = f.description;
  for (const std::string& m : f.metrics) {
    size_t eq = m.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(fmt::format("--metric '{}': expected NAME=NUMBER", m));
    }
    std::string_view number = std::string_view(m).substr(eq + 1);
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size()) {
      return Status::InvalidArgument(fmt::format("--metric '{}': '{}' is not a number", m, number));
    }
    options.metrics[m.substr(0, eq)] = value;
  }
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  std::string runtime = f.runtime;
  if (runtime.empty()) {
    auto it = instance->spec().models.find(f.name);
    runtime = it != instance->spec().models.end() ? it->second.runtime : "xgboost";
  }
  ASSIGN_OR_RETURN(ModelVersion v,
                   instance->registry()->Register(f.name, f.file, runtime, options));
  ASSIGN_OR_RETURN(ModelInfo model, instance->registry()->Get(f.name));
  if (!f.project.json) fmt::print("registered ");
  PrintVersion(v, model.aliases, f.project.json);
  return Status::Ok();
}

Status List(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  ASSIGN_OR_RETURN(auto models, instance->registry()->List());
  if (f.project.json) {
    fmt::print("{}\n", ModelListToJson(models));  // GET /v1/models's document
    return Status::Ok();
  }
  if (models.empty()) fmt::print("no models registered\n");
  for (const ModelInfo& m : models) {
    std::string aliases;
    for (const auto& [alias, version] : m.aliases)
      aliases += fmt::format(" {}=v{}", alias, version);
    fmt::print("{:<24} latest v{}{}\n", m.name, m.latest.version, aliases);
  }
  return Status::Ok();
}

Status Show(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  ASSIGN_OR_RETURN(ModelInfo model, instance->registry()->Get(f.name));
  ASSIGN_OR_RETURN(ModelVersion v,
                   instance->registry()->Resolve(f.name, f.alias.empty() ? "latest" : f.alias));
  PrintVersion(v, model.aliases, f.project.json);
  return Status::Ok();
}

Status Alias(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  RETURN_IF_ERROR(instance->registry()->SetAlias(f.name, f.alias, f.version));
  fmt::print("{}@{} -> v{}\n", f.name, f.alias, f.version);
  return Status::Ok();
}

void AddAction(CLI::App* cmd, std::shared_ptr<ModelsFlags> f,
               Status (*action)(const ModelsFlags&)) {
  f->project.AddTo(cmd);
  cmd->callback([f, action] {
    Status st = action(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace

void RegisterModels(CLI::App* app) {
  CLI::App* models = app->add_subcommand("models", "The model registry");
  models->require_subcommand(1);

  auto reg = std::make_shared<ModelsFlags>();
  CLI::App* r = models->add_subcommand("register", "Register a model file as a new version");
  r->add_option("name", reg->name, "Model name")->required();
  r->add_option("file", reg->file, "Artifact (XGBoost JSON/UBJ/binary, ...)")->required();
  r->add_option("--runtime", reg->runtime, "xgboost, linear, ... (Default: from freshet.yaml)");
  r->add_option("--metric", reg->metrics, "NAME=NUMBER, repeatable");
  r->add_option("--description", reg->description, "Free text");
  AddAction(r, reg, Register);

  auto list = std::make_shared<ModelsFlags>();
  AddAction(models->add_subcommand("list", "List registered models"), list, List);

  auto show = std::make_shared<ModelsFlags>();
  CLI::App* s = models->add_subcommand("show", "Show a model version");
  s->add_option("name", show->name, "Model name")->required();
  s->add_option("--version,-v", show->alias, "Version number or alias (Default: latest)");
  AddAction(s, show, Show);

  auto alias = std::make_shared<ModelsFlags>();
  CLI::App* a =
      models->add_subcommand("alias", "Point an alias (champion, challenger) at a version");
  a->add_option("name", alias->name, "Model name")->required();
  a->add_option("alias", alias->alias, "Alias")->required();
  a->add_option("version", alias->version, "Version number")->required();
  AddAction(a, alias, Alias);
}

}  // namespace freshet::cli

#include <fmt/format.h>

#include <charconv>

#include "api/api_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "core/time_util.h"
#include "instance/instance.h"
#include "models/mlflow_model.h"
#include "serving/model_signature.h"

namespace freshet::cli {
namespace {

struct ModelsFlags {
  ProjectFlags project;
  std::string name;
  std::string file;  // register: the artifact; import-mlflow: the MLflow model directory
  std::string runtime;
  std::string alias;
  std::string ref;  // show: a version number, alias or "latest"
  int64_t version = 0;
  std::vector<std::string> metrics;  // NAME=NUMBER
  std::vector<std::string> params;   // KEY=VALUE
  std::vector<std::string> tags;     // KEY=VALUE
  std::vector<std::string> untag;    // KEY
  std::string description;
  std::string feature_service;
  std::string training_data;
  std::string holdout;
  std::string by;
  std::string metric;  // promote
  bool force = false;
  bool remove = false;  // alias --remove
};

Result<std::unique_ptr<Instance>> OpenInstance(const ModelsFlags& f) {
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  return Instance::Open(options);
}

// "KEY=VALUE" items of `flag` into `out`; kInvalidArgument naming the item otherwise.
Status ParseAssignments(std::string_view flag, const std::vector<std::string>& items,
                        std::map<std::string, std::string>* out) {
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument(fmt::format("{} '{}': expected KEY=VALUE", flag, item));
    }
    (*out)[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return Status::Ok();
}

Status ParseMetrics(const std::vector<std::string>& items, std::map<std::string, double>* out) {
  std::map<std::string, std::string> texts;
  for (const std::string& m : items) {
    if (m.find('=') == std::string::npos) {
      return Status::InvalidArgument(fmt::format("--metric '{}': expected NAME=NUMBER", m));
    }
  }
  RETURN_IF_ERROR(ParseAssignments("--metric", items, &texts));
  for (const auto& [name, number] : texts) {
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size()) {
      return Status::InvalidArgument(
          fmt::format("--metric '{}={}': '{}' is not a number", name, number, number));
    }
    (*out)[name] = value;
  }
  return Status::Ok();
}

std::string Joined(const std::map<std::string, std::string>& map) {
  std::string out;
  for (const auto& [k, v] : map) out += fmt::format("{}{}={}", out.empty() ? "" : " ", k, v);
  return out;
}

// --json prints the API's encoding (api/api_json.h): the same document
// GET /v1/models/{name}/versions/{v} answers. `aliases` are the model's aliases.
void PrintVersion(const ModelVersion& v, const std::map<std::string, int64_t>& aliases, bool json) {
  if (json) {
    fmt::print("{}\n", ModelVersionToJson(v, aliases));
    return;
  }
  std::string names;
  for (const auto& [alias, version] : aliases) {
    if (version == v.version) names += fmt::format(" {}", alias);
  }
  fmt::print("{} v{}  runtime={}  created={}{}\n  artifact: {} ({} bytes, sha256 {})\n", v.name,
             v.version, v.runtime, FormatRfc3339Ms(v.created_ms),
             names.empty() ? "" : "  aliases:" + names, v.artifact_name, v.artifact_size,
             v.content_hash);
  if (!v.description.empty()) fmt::print("  description: {}\n", v.description);
  for (const auto& [k, m] : v.metrics) fmt::print("  metric {} = {}\n", k, m);
  if (!v.params.empty()) fmt::print("  params: {}\n", Joined(v.params));
  if (!v.tags.empty()) fmt::print("  tags: {}\n", Joined(v.tags));
  const ModelLineage& l = v.lineage;
  fmt::print("  by: {}{}\n", l.created_by,
             l.runtime_library.empty() ? "" : "  library: " + l.runtime_library);
  if (!l.training_data.empty()) {
    fmt::print("  training data: {}{}\n", l.training_data,
               l.training_data_sha256.empty() ? "" : " (sha256 " + l.training_data_sha256 + ")");
  }
  if (!l.holdout.empty() || !l.holdout_sha256.empty()) {
    fmt::print("  holdout: {}{}\n", l.holdout,
               l.holdout_sha256.empty() ? "" : " (sha256 " + l.holdout_sha256 + ")");
  }
  if (!l.feature_service.empty()) {
    fmt::print("  feature service: {} (spec sha256 {})\n", l.feature_service, l.feature_spec_hash);
  }
  for (size_t i = 0; i < v.signature.size(); ++i) {
    fmt::print("  input {}: {} {}\n", i + 1, v.signature[i].name, v.signature[i].type);
  }
}

void PrintModel(const ModelInfo& m, bool json) {
  if (json) {
    fmt::print("{}\n", ModelInfoToJson(m));  // GET /v1/models/{name}'s document
    return;
  }
  std::string versions, aliases;
  for (int64_t v : m.versions) versions += fmt::format(" {}", v);
  for (const auto& [alias, version] : m.aliases) aliases += fmt::format(" {}=v{}", alias, version);
  fmt::print("{}  created={}  latest v{}\n  versions:{}\n  aliases:{}\n", m.name,
             FormatRfc3339Ms(m.created_ms), m.latest.version, versions,
             aliases.empty() ? " none" : aliases);
  if (!m.tags.empty()) fmt::print("  tags: {}\n", Joined(m.tags));
  for (const AliasChange& c : m.alias_history) {
    fmt::print("  {}  {} {} -> {}  by {}{}\n", FormatRfc3339Ms(c.at_ms), c.alias,
               c.previous ? fmt::format("v{}", c.previous) : "(none)",
               c.version ? fmt::format("v{}", c.version) : "(removed)", c.by,
               c.rollback ? "  (rollback)" : "");
  }
}

// Registers and prints a version; `options` already holds what the flags say.
Status RegisterAndPrint(Instance* instance, const ModelsFlags& f, const std::string& artifact,
                        const std::string& runtime, RegisterOptions options) {
  if (!f.feature_service.empty()) {
    RETURN_IF_ERROR(BindFeatureService(instance->spec(), f.feature_service, &options));
  }
  ASSIGN_OR_RETURN(ModelVersion v,
                   instance->registry()->Register(f.name, artifact, runtime, options));
  ASSIGN_OR_RETURN(ModelInfo model, instance->registry()->Get(f.name));
  if (!f.project.json) fmt::print("registered ");
  PrintVersion(v, model.aliases, f.project.json);
  return Status::Ok();
}

// The flags every registration shares, parsed before the data directory is opened: a bad one
// changes nothing, not even the data directory.
Result<RegisterOptions> RegistrationFlags(const ModelsFlags& f, RegisterOptions options) {
  RETURN_IF_ERROR(ParseMetrics(f.metrics, &options.metrics));
  RETURN_IF_ERROR(ParseAssignments("--param", f.params, &options.params));
  RETURN_IF_ERROR(ParseAssignments("--tag", f.tags, &options.tags));
  if (!f.description.empty()) options.description = f.description;
  if (!f.training_data.empty()) options.lineage.training_data = f.training_data;
  if (!f.holdout.empty()) options.lineage.holdout = f.holdout;
  if (!f.by.empty()) options.lineage.created_by = f.by;
  return options;
}

Status Register(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(RegisterOptions options, RegistrationFlags(f, {}));
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  std::string runtime = f.runtime;
  if (runtime.empty()) {
    auto it = instance->spec().models.find(f.name);
    runtime = it != instance->spec().models.end() ? it->second.runtime : "xgboost";
  }
  return RegisterAndPrint(instance.get(), f, f.file, runtime, std::move(options));
}

Status ImportMlflow(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(MlflowModel model, ReadMlflowModel(f.file));
  ASSIGN_OR_RETURN(RegisterOptions options, RegistrationFlags(f, ToRegisterOptions(model)));
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  return RegisterAndPrint(instance.get(), f, model.artifact_path, model.runtime,
                          std::move(options));
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
    for (const auto& [alias, version] : m.aliases) {
      aliases += fmt::format(" {}=v{}", alias, version);
    }
    fmt::print("{:<24} latest v{}  {} versions{}\n", m.name, m.latest.version, m.versions.size(),
               aliases);
  }
  return Status::Ok();
}

Status Show(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  ASSIGN_OR_RETURN(ModelInfo model, instance->registry()->Get(f.name));
  if (f.ref.empty()) {
    PrintModel(model, f.project.json);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(ModelVersion v, instance->registry()->Resolve(f.name, f.ref));
  PrintVersion(v, model.aliases, f.project.json);
  return Status::Ok();
}

// Prints an alias move: "ranker champion: v1 -> v2 (why)".
void PrintMove(const ModelsFlags& f, const std::string& alias, int64_t from, int64_t to,
               const std::string& why) {
  fmt::print("{} {}: {} -> {}{}\n", f.name, alias, from ? fmt::format("v{}", from) : "(none)",
             to ? fmt::format("v{}", to) : "(removed)", why.empty() ? "" : " (" + why + ")");
}

Status Alias(const ModelsFlags& f) {
  if (f.remove == (f.version != 0)) {
    return Status::InvalidArgument("models alias: give either a VERSION or --remove");
  }
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  ModelRegistry* registry = instance->registry();
  if (f.remove) {
    RETURN_IF_ERROR(registry->RemoveAlias(f.name, f.alias, f.by));
  } else {
    RETURN_IF_ERROR(registry->SetAlias(f.name, f.alias, f.version, f.by,
                                       instance->predictor()->router()->CheckAndWarm(f.name)));
  }
  ASSIGN_OR_RETURN(ModelInfo model, registry->Get(f.name));
  const AliasChange& change = model.alias_history.back();
  if (f.project.json) {
    fmt::print("{}\n", AliasChangeToJson(change));
  } else {
    PrintMove(f, change.alias, change.previous, change.version, "");
  }
  return Status::Ok();
}

Status Promote(const ModelsFlags& f) {
  if (f.metric.empty() && !f.force) {
    return Status::InvalidArgument("models promote: --metric NAME is required (or --force)");
  }
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  ASSIGN_OR_RETURN(PromoteResult result,
                   instance->registry()->Promote(f.name, f.version,
                                                 {.metric = f.metric, .force = f.force, .by = f.by},
                                                 instance->predictor()->router()->CheckAndWarm(f.name)));
  if (f.project.json) {
    fmt::print("{}\n", PromoteResultToJson(f.name, result));
  } else {
    PrintMove(f, "champion", result.previous, result.version, result.reason);
  }
  return Status::Ok();
}

Status Rollback(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  ASSIGN_OR_RETURN(AliasChange change,
                   instance->registry()->Rollback(f.name, f.by,
                                                  instance->predictor()->router()->CheckAndWarm(f.name)));
  if (f.project.json) {
    fmt::print("{}\n", AliasChangeToJson(change));
  } else {
    PrintMove(f, change.alias, change.previous, change.version, "rollback");
  }
  return Status::Ok();
}

Status Delete(const ModelsFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  RETURN_IF_ERROR(instance->registry()->DeleteVersion(f.name, f.version,
                                                      DeploymentUses(instance->spec(), f.name)));
  if (f.project.json) {
    fmt::print("{}\n", DeletedVersionToJson(f.name, f.version));
  } else {
    fmt::print("deleted {} v{}\n", f.name, f.version);
  }
  return Status::Ok();
}

Status Tag(const ModelsFlags& f) {
  std::map<std::string, std::string> set;
  RETURN_IF_ERROR(ParseAssignments("tag", f.tags, &set));
  if (set.empty() && f.untag.empty()) {
    return Status::InvalidArgument("models tag: give KEY=VALUE tags to set or --remove KEY");
  }
  ASSIGN_OR_RETURN(auto instance, OpenInstance(f));
  RETURN_IF_ERROR(instance->registry()->UpdateTags(f.name, f.version, set, f.untag));
  ASSIGN_OR_RETURN(ModelInfo model, instance->registry()->Get(f.name));
  if (f.version == 0) {
    PrintModel(model, f.project.json);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(ModelVersion v, instance->registry()->GetVersion(f.name, f.version));
  PrintVersion(v, model.aliases, f.project.json);
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

void AddRegistrationOptions(CLI::App* cmd, ModelsFlags* f) {
  cmd->add_option("--metric", f->metrics, "NAME=NUMBER, repeatable (e.g. auc=0.91)");
  cmd->add_option("--param", f->params, "KEY=VALUE training parameter, repeatable");
  cmd->add_option("--tag", f->tags, "KEY=VALUE version tag, repeatable");
  cmd->add_option("--description", f->description, "Free text");
  cmd->add_option("--feature-service", f->feature_service,
                  "The freshet.yaml feature service the model reads: records its signature and "
                  "spec hash");
  cmd->add_option("--training-data", f->training_data,
                  "Training set path or URI (a local file is hashed)");
  cmd->add_option("--holdout", f->holdout,
                  "Holdout set path or URI the metrics were measured on (a local file is hashed; "
                  "promote compares metrics only on the same holdout)");
  cmd->add_option("--by", f->by, "Who registers it (Default: the OS user)");
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
  AddRegistrationOptions(r, reg.get());
  AddAction(r, reg, Register);

  auto imp = std::make_shared<ModelsFlags>();
  CLI::App* i = models->add_subcommand(
      "import-mlflow",
      "Register an MLflow model directory (xgboost or TorchScript pytorch flavor)");
  i->add_option("dir", imp->file, "MLflow model directory (holds MLmodel)")->required();
  i->add_option("name", imp->name, "Model name")->required();
  AddRegistrationOptions(i, imp.get());
  AddAction(i, imp, ImportMlflow);

  auto list = std::make_shared<ModelsFlags>();
  AddAction(models->add_subcommand("list", "List registered models"), list, List);

  auto show = std::make_shared<ModelsFlags>();
  CLI::App* s = models->add_subcommand("show", "Show a model, or one of its versions");
  s->add_option("name", show->name, "Model name")->required();
  s->add_option("version", show->ref, "Version number, alias or latest (Default: the model)");
  AddAction(s, show, Show);

  auto alias = std::make_shared<ModelsFlags>();
  CLI::App* a = models->add_subcommand(
      "alias", "Point an alias (champion, challenger, ...) at a version, or --remove it");
  a->add_option("name", alias->name, "Model name")->required();
  a->add_option("alias", alias->alias, "Alias")->required();
  a->add_option("version", alias->version, "Version number");
  a->add_flag("--remove", alias->remove, "Remove the alias");
  a->add_option("--by", alias->by, "Who moves it (Default: the OS user)");
  AddAction(a, alias, Alias);

  auto promote = std::make_shared<ModelsFlags>();
  CLI::App* p = models->add_subcommand(
      "promote", "Make a version champion if it beats the champion on the same holdout");
  p->add_option("name", promote->name, "Model name")->required();
  p->add_option("version", promote->version, "Candidate version")->required();
  p->add_option("--metric", promote->metric,
                "Metric to compare (auc, accuracy, recall@k: higher is better; logloss, rmse: "
                "lower)");
  p->add_flag("--force", promote->force, "Promote without comparing");
  p->add_option("--by", promote->by, "Who promotes it (Default: the OS user)");
  AddAction(p, promote, Promote);

  auto rollback = std::make_shared<ModelsFlags>();
  CLI::App* rb =
      models->add_subcommand("rollback", "Move champion back to the version it pointed at before");
  rb->add_option("name", rollback->name, "Model name")->required();
  rb->add_option("--by", rollback->by, "Who rolls back (Default: the OS user)");
  AddAction(rb, rollback, Rollback);

  auto del = std::make_shared<ModelsFlags>();
  CLI::App* d = models->add_subcommand(
      "delete", "Delete a version no alias or deployment uses (its number is not reused)");
  d->add_option("name", del->name, "Model name")->required();
  d->add_option("version", del->version, "Version number")->required();
  AddAction(d, del, Delete);

  auto tag = std::make_shared<ModelsFlags>();
  CLI::App* t = models->add_subcommand("tag", "Set or remove tags of a model or a version");
  t->add_option("name", tag->name, "Model name")->required();
  t->add_option("tags", tag->tags, "KEY=VALUE, repeatable");
  t->add_option("--version,-v", tag->version, "Tag this version (Default: the model)");
  t->add_option("--remove", tag->untag, "KEY to remove, repeatable");
  AddAction(t, tag, Tag);
}

}  // namespace freshet::cli

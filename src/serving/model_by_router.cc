#include "serving/model_by_router.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

namespace freshet {

// What an attribute value routes to: a resolved version, or why there is none.
struct ModelByRouter::Target {
  std::shared_ptr<const ModelVersion> version;  // null when `error` is set
  Status error;
};

// The targets of the values seen at one registry generation.
struct ModelByRouter::Table {
  explicit Table(uint64_t gen) : generation(gen) {}
  const uint64_t generation;
  std::shared_mutex mu;  // guards the members below
  std::unordered_map<std::string, std::shared_ptr<const Target>> by_value;
  std::shared_ptr<const Target> no_value;  // rows whose attribute has no value
};

struct ModelByRouter::Deployment {
  const DeploymentSpec* spec = nullptr;
  std::mutex swap_mu;  // one table replacement at a time
  std::atomic<std::shared_ptr<Table>> table;
};

namespace {

// The attribute value as it appears in a model name: a string as is, other values as written.
std::string ValueKey(const Value& value) {
  return value.is_string() ? value.as_string() : value.ToString();
}

}  // namespace

ModelByRouter::ModelByRouter(const ProjectSpec* spec, ModelRegistry* registry, ModelCache* models)
    : registry_(registry), models_(models) {
  for (const auto& [name, d] : spec->deployments) {
    if (!d.model_by) continue;
    auto state = std::make_unique<Deployment>();
    state->spec = &d;
    deployments_.emplace(name, std::move(state));
  }
}

ModelByRouter::~ModelByRouter() = default;

std::shared_ptr<const ModelByRouter::Target> ModelByRouter::Resolve(const DeploymentSpec& spec,
                                                                    const Value& value) const {
  const ModelBySpec& by = *spec.model_by;
  auto target = std::make_shared<Target>();
  auto fallback = [&](const Status& why) {
    if (by.fallback.empty()) {
      target->error = why;
      return;
    }
    Result<ModelVersion> version = registry_->Resolve(by.fallback, spec.alias);
    if (version.ok()) {
      target->version = std::make_shared<const ModelVersion>(std::move(version).value());
    } else {
      target->error = version.status().WithContext(fmt::format(
          "{}; the fallback model '{}' does not serve either", why.message(), by.fallback));
    }
  };
  if (value.is_null()) {
    fallback(Status::InvalidArgument(
        fmt::format("model_by attribute {} has no value (and the deployment declares no "
                    "fallback)",
                    by.attribute.ToString())));
    return target;
  }
  const std::string key = ValueKey(value);
  const std::string model = by.ModelFor(key);
  Result<ModelVersion> version = registry_->Resolve(model, spec.alias);
  if (version.ok()) {
    target->version = std::make_shared<const ModelVersion>(std::move(version).value());
  } else if (version.status().code() == StatusCode::kNotFound) {
    fallback(Status::NotFound(
        fmt::format("no model '{}' for {} '{}' ({}); register it or declare a model_by fallback",
                    model, by.attribute.ToString(), key, version.status().message())));
  } else {
    target->error = version.status().WithContext(
        fmt::format("model '{}' for {} '{}'", model, by.attribute.ToString(), key));
  }
  return target;
}

Result<std::shared_ptr<const ModelByRouter::Target>> ModelByRouter::Find(Deployment& d,
                                                                         const Value& value) {
  std::optional<uint64_t> gen = registry_->generation();
  if (!gen) return Resolve(*d.spec, value);  // the registry cannot tell when it changes
  std::shared_ptr<Table> table = d.table.load(std::memory_order_acquire);
  if (!table || table->generation != *gen) {
    std::lock_guard<std::mutex> lock(d.swap_mu);
    table = d.table.load(std::memory_order_acquire);
    if (!table || table->generation < *gen) {
      table = std::make_shared<Table>(*gen);
      d.table.store(table, std::memory_order_release);
    }
  }
  const bool has_value = !value.is_null();
  const std::string key = has_value ? ValueKey(value) : std::string();
  {
    std::shared_lock<std::shared_mutex> lock(table->mu);
    if (!has_value && table->no_value) return table->no_value;
    if (has_value) {
      auto it = table->by_value.find(key);
      if (it != table->by_value.end()) return it->second;
    }
  }
  std::shared_ptr<const Target> target = Resolve(*d.spec, value);
  std::unique_lock<std::shared_mutex> lock(table->mu);
  if (!has_value) {
    if (!table->no_value) table->no_value = target;
    return table->no_value;
  }
  return table->by_value.try_emplace(key, std::move(target)).first->second;
}

Status ModelByRouter::Score(const DeploymentSpec& deployment, const FeatureTable& features,
                            const PredictContext& context, const float* input, size_t rows,
                            size_t cols, MicroBatcher* batcher,
                            MicroBatcher::Announcement* announced, std::vector<double>* scores,
                            std::vector<int64_t>* versions, std::vector<std::string>* models) {
  auto it = deployments_.find(deployment.name);
  if (it == deployments_.end()) {
    return Status::Internal(
        fmt::format("deployment '{}' does not pick its model per entity", deployment.name));
  }
  Deployment& d = *it->second;
  const InputRef& attribute = deployment.model_by->attribute;
  // Rows grouped by the version scoring them, in order of first appearance.
  std::vector<std::shared_ptr<const Target>> targets;
  std::vector<std::vector<size_t>> groups;
  std::unordered_map<const Target*, size_t> group_of;
  for (size_t r = 0; r < rows; ++r) {
    std::string what = fmt::format("model_by attribute ({}), row {}", attribute.ToString(), r);
    ASSIGN_OR_RETURN(const Value* value, InputValue(attribute, features, context, r, what));
    ASSIGN_OR_RETURN(std::shared_ptr<const Target> target, Find(d, *value));
    if (!target->error.ok()) {
      return target->error.WithContext(fmt::format("deployment '{}', row {}", deployment.name, r));
    }
    auto [group, added] = group_of.try_emplace(target.get(), groups.size());
    if (added) {
      targets.push_back(std::move(target));
      groups.emplace_back();
    }
    groups[group->second].push_back(r);
  }

  versions->assign(rows, 0);
  models->assign(rows, std::string());
  std::vector<float> served, group_input, group_out;
  std::optional<size_t> width;  // outputs per row
  for (size_t g = 0; g < groups.size(); ++g) {
    const ModelVersion& version = *targets[g]->version;
    const std::vector<size_t>& group = groups[g];
    Result<std::shared_ptr<const ModelRuntime>> runtime = models_->Get(version);
    if (!runtime.ok()) {
      return runtime.status().WithContext(fmt::format(
          "deployment '{}': model {} v{}", deployment.name, version.name, version.version));
    }
    if ((*runtime)->input() != RuntimeInput::kFeatureRows ||
        (version.num_features >= 0 && static_cast<size_t>(version.num_features) != cols)) {
      return Status::FailedPrecondition(fmt::format(
          "deployment '{}': model {} v{} (runtime {}) does not take rows of the {} features of "
          "feature service '{}'",
          deployment.name, version.name, version.version, version.runtime, cols,
          deployment.feature_service));
    }
    const float* group_rows = input;
    if (groups.size() > 1) {
      group_input.resize(group.size() * cols);
      for (size_t i = 0; i < group.size(); ++i) {
        std::copy_n(input + group[i] * cols, cols, group_input.begin() + i * cols);
      }
      group_rows = group_input.data();
    }
    Status st =
        batcher != nullptr
            ? batcher->Predict(*runtime, group_rows, group.size(), cols, &group_out, announced)
            : (*runtime)->Predict(group_rows, group.size(), cols, &group_out);
    announced = nullptr;  // ended by the first call
    RETURN_IF_ERROR(st);
    const size_t k = group.empty() ? 0 : group_out.size() / group.size();
    if (width && *width != k) {
      return Status::FailedPrecondition(fmt::format(
          "deployment '{}': its models give different numbers of outputs per row ({} and {})",
          deployment.name, *width, k));
    }
    width = k;
    served.resize(rows * k);
    for (size_t i = 0; i < group.size(); ++i) {
      std::copy_n(group_out.begin() + i * k, k, served.begin() + group[i] * k);
      (*versions)[group[i]] = version.version;
      (*models)[group[i]] = version.name;
    }
  }
  scores->assign(served.begin(), served.end());
  return Status::Ok();
}

}  // namespace freshet

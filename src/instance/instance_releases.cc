// Instance: releases of deployments and the housekeeping of feature generations (retirement,
// log retention).
#include <fmt/format.h>

#include "instance/instance.h"

namespace freshet {

Result<Release> Instance::Deploy(const std::string& deployment,
                                 std::optional<int64_t> model_version,
                                 std::optional<uint32_t> generation) {
  auto it = spec_.deployments.find(deployment);
  if (it == spec_.deployments.end()) {
    return Status::NotFound(fmt::format("unknown deployment '{}'", deployment));
  }
  const DeploymentSpec& d = it->second;
  std::lock_guard lock(release_mu_);
  Release release;
  if (d.model_by && model_version) {
    return Status::InvalidArgument(fmt::format(
        "deployment '{}' picks its model per entity (model_by): its release pins only feature "
        "generations, not a model version",
        deployment));
  }
  if (!d.model_by) {
    ASSIGN_OR_RETURN(
        ModelVersion version,
        registry_->Resolve(d.model, model_version ? std::to_string(*model_version) : d.alias));
    release.model_version = version.version;
  }
  ASSIGN_OR_RETURN(std::vector<FeatureRef> refs, features_->ServiceFeatures(d.feature_service));
  bool placed = !generation.has_value();
  std::vector<std::string> views;
  for (const FeatureRef& ref : refs) {
    if (features_->IsTableView(ref.view) || release.generations.count(ref.view)) continue;
    views.push_back(ref.view);
    ASSIGN_OR_RETURN(std::vector<GenerationInfo> generations, generations_->List(ref.view));
    std::optional<uint32_t> chosen;
    for (const GenerationInfo& g : generations) {
      if (generation && g.generation == *generation) {
        if (g.state != GenerationState::kLive) {
          return Status::FailedPrecondition(fmt::format(
              "generation {} of feature view '{}' is {} ({} of {} log records applied)",
              g.generation, g.view, GenerationStateName(g.state), g.applied, g.log_end));
        }
        chosen = g.generation;
        placed = true;
        break;
      }
      if (g.state == GenerationState::kLive) chosen = g.generation;  // ascending: the newest
    }
    if (!chosen) {
      return Status::FailedPrecondition(fmt::format(
          "feature view '{}' has no caught-up generation yet (freshet features generations {})",
          ref.view, ref.view));
    }
    release.generations[ref.view] = *chosen;
  }
  if (!placed) {
    return Status::NotFound(
        fmt::format("generation {} belongs to no stream view of feature service '{}' ({})",
                    *generation, d.feature_service, fmt::join(views, ", ")));
  }
  if (!d.model_by) RETURN_IF_ERROR(WarmRelease(deployment, release.model_version));
  return releases_->Switch(deployment, std::move(release));
}

Status Instance::WarmRelease(const std::string& deployment, int64_t model_version) {
  Result<std::shared_ptr<const TrafficRouter::Route>> route =
      predictor_->router()->Current(deployment, std::to_string(model_version));
  if (route.ok()) return Status::Ok();
  return Status::FailedPrecondition(fmt::format("deployment '{}': model version {} cannot serve: {}",
                                                deployment, model_version,
                                                route.status().message()));
}

Result<Release> Instance::RollbackRelease(const std::string& deployment) {
  if (!spec_.deployments.count(deployment)) {
    return Status::NotFound(fmt::format("unknown deployment '{}'", deployment));
  }
  std::lock_guard lock(release_mu_);
  std::shared_ptr<const Release> previous = releases_->Previous(deployment);
  if (previous && !spec_.deployments.at(deployment).model_by) {
    RETURN_IF_ERROR(WarmRelease(deployment, previous->model_version));
  }
  return releases_->Rollback(deployment);
}

Status Instance::RetireGeneration(const std::string& view, uint32_t generation) {
  std::lock_guard lock(release_mu_);
  return generations_->Retire(view, generation, releases_->Using(view, generation));
}

Status Instance::DropExpiredEvents() {
  if (!log_) return Status::Ok();  // closing: the final checkpoint runs after the log is gone
  for (const auto& [name, source] : sources_) {
    const int64_t retention = spec_.sources.at(name).retention_ms;
    if (retention <= 0 || !source->pushed()) continue;
    ASSIGN_OR_RETURN(uint64_t dropped,
                     log_->DropBefore(name, clock_->NowMs() - retention,
                                      generations_->MinPosition(name, /*all=*/true)[0]));
    (void)dropped;
  }
  return Status::Ok();
}

}  // namespace freshet

#include "serving/traffic_router.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "serving/model_signature.h"

namespace freshet {
namespace {

constexpr std::string_view kServed = "served";
constexpr std::string_view kShadowRole = "shadow";

// FNV-1a over `bytes`, continuing from `h`: stable across processes and platforms, so an entity
// lands in the same bucket on every replica and after restarts.
uint64_t Fnv1a(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// SplitMix64's finalizer: spreads FNV's weak low bits over the whole word.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The bucket -> arm table by weighted rendezvous hashing: bucket b goes to the arm with the
// largest -weight / ln(u), u uniform in (0, 1) from (b, the arm's ref). Empty for one arm.
std::vector<uint16_t> BucketTable(const std::vector<TrafficTargetSpec>& traffic) {
  std::vector<uint16_t> table;
  if (traffic.size() < 2) return table;
  table.resize(TrafficRouter::kBuckets);
  std::vector<uint64_t> ref_hash;
  for (const TrafficTargetSpec& t : traffic) ref_hash.push_back(Fnv1a(t.ref));
  for (size_t b = 0; b < table.size(); ++b) {
    double best = -1;
    for (size_t i = 0; i < traffic.size(); ++i) {
      uint64_t h = Mix(ref_hash[i] ^ Mix(b + 1));
      double u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;  // in (0, 1)
      double score = -traffic[i].weight / std::log(u);
      if (score > best) {
        best = score;
        table[b] = static_cast<uint16_t>(i);
      }
    }
  }
  return table;
}

// The entity keys of the views `service` reads, in order of first use: what a row's bucket is
// hashed from.
std::vector<std::string> StickyKeys(const ProjectSpec& spec, const std::string& service) {
  std::vector<std::string> keys;
  for (const FeatureRef& ref : spec.feature_services.at(service).features) {
    const FeatureViewSpec& view = spec.feature_views.at(ref.view);
    for (const std::string& key : spec.entities.at(view.entity).keys) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  return keys;
}

double Elapsed(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

struct TrafficRouter::Deployment {
  const DeploymentSpec* spec = nullptr;
  size_t width = 0;               // the feature service's length
  std::vector<std::string> keys;  // StickyKeys
  std::vector<uint16_t> buckets;  // BucketTable
  Counter* shadow_disagreements = nullptr;
  Histogram* shadow_diff = nullptr;
  Counter* shadow_dropped = nullptr;
  std::mutex refresh_mu;  // one Build at a time
  std::atomic<std::shared_ptr<const Route>> route;
  std::atomic<std::shared_ptr<const Route>> pinned_route;  // the last pinned Current()'s

  // The arm index of row `r`: its entity's bucket's.
  size_t ArmOf(const EntityColumns& entities, size_t r) const {
    uint64_t h = Fnv1a(spec->name);
    for (const std::string& key : keys) {
      auto it = entities.find(key);
      std::string value = it == entities.end() ? "" : it->second[r].ToString();
      h = Fnv1a(std::string_view("\0", 1), Fnv1a(value, h));
    }
    return buckets[Mix(h) % buckets.size()];
  }
};

TrafficRouter::TrafficRouter(const ProjectSpec* spec, ModelRegistry* registry, ModelCache* models,
                             MetricsRegistry* metrics)
    : spec_(spec), registry_(registry), models_(models) {
  const std::vector<std::string> labels = {"deployment", "model", "version", "role"};
  requests_ = metrics->GetCounter("freshet_model_requests_total",
                                  "Predict calls that scored rows with a model version", labels);
  rows_ = metrics->GetCounter("freshet_model_rows_total", "Rows scored by a model version", labels);
  errors_ = metrics->GetCounter("freshet_model_errors_total",
                                "Failed model calls of a model version", labels);
  latency_ = metrics->GetHistogram("freshet_model_predict_duration_seconds",
                                   "Time of one call's model scoring with a model version", labels);
  load_failures_ = metrics->GetCounter(
      "freshet_model_load_failures_total",
      "Registry targets of a deployment that could not be served (the previous version stays)",
      {"deployment", "model", "version"});
  CounterFamily* disagreements = metrics->GetCounter(
      "freshet_shadow_disagreements_total",
      "Shadowed rows with an output differing from the served one by more than the tolerance",
      {"deployment"});
  HistogramFamily* diff = metrics->GetHistogram(
      "freshet_shadow_score_diff", "Absolute difference between a shadow and a served output",
      {"deployment"}, {0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1});
  CounterFamily* dropped =
      metrics->GetCounter("freshet_shadow_dropped_total",
                          "Predict calls not shadowed because the queue was full", {"deployment"});
  bool any_shadow = false;
  for (const auto& [name, d] : spec->deployments) {
    auto state = std::make_unique<Deployment>();
    state->spec = &d;
    state->width = spec->feature_services.at(d.feature_service).features.size();
    state->keys = StickyKeys(*spec, d.feature_service);
    state->buckets = BucketTable(d.traffic);
    if (d.shadow) {
      any_shadow = true;
      state->shadow_disagreements = disagreements->WithLabels({name});
      state->shadow_diff = diff->WithLabels({name});
      state->shadow_dropped = dropped->WithLabels({name});
    }
    deployments_.emplace(name, std::move(state));
  }
  if (any_shadow) shadow_thread_ = std::thread([this] { ShadowLoop(); });
}

TrafficRouter::~TrafficRouter() {
  {
    std::lock_guard<std::mutex> lock(shadow_mu_);
    stopping_ = true;
  }
  shadow_cv_.notify_all();
  if (shadow_thread_.joinable()) shadow_thread_.join();
}

const TrafficRouter::VersionMetrics* TrafficRouter::Metrics(const Deployment& d,
                                                            const ModelVersion& v,
                                                            const std::string& role) {
  std::array<std::string, 4> key = {d.spec->name, v.name, std::to_string(v.version), role};
  std::lock_guard<std::mutex> lock(metrics_mu_);
  std::unique_ptr<VersionMetrics>& m = version_metrics_[key];
  if (!m) {
    std::vector<std::string> labels(key.begin(), key.end());
    m = std::make_unique<VersionMetrics>(
        VersionMetrics{requests_->WithLabels(labels), rows_->WithLabels(labels),
                       errors_->WithLabels(labels), latency_->WithLabels(labels)});
  }
  return m.get();
}

Result<TrafficRouter::Arm> TrafficRouter::BuildArm(const Deployment& d, const std::string& ref,
                                                   const std::string& role, const Arm* previous) {
  const DeploymentSpec& spec = *d.spec;
  ASSIGN_OR_RETURN(ModelVersion version, registry_->Resolve(spec.model, ref));
  if (previous != nullptr && previous->model.version.version == version.version) {
    Arm same = *previous;
    same.load_error.clear();
    return same;
  }
  Arm arm;
  arm.ref = ref;
  Result<std::shared_ptr<const ModelRuntime>> runtime = models_->Get(version);
  Status servable = runtime.status();
  // The caller cannot fix this one by changing the request: the deployment is misconfigured.
  // (A service's request-time features add columns the predictor counts per request.)
  const bool fixed_width =
      spec_->feature_services.at(spec.feature_service).request_features.empty();
  if (servable.ok() && fixed_width && version.num_features >= 0 &&
      static_cast<size_t>(version.num_features) != d.width) {
    servable = Status::FailedPrecondition(fmt::format(
        "deployment '{}': model {} v{} takes {} features but feature service '{}' has {}",
        spec.name, version.name, version.version, version.num_features, spec.feature_service,
        d.width));
  }
  if (!servable.ok()) {
    if (previous == nullptr) return servable;
    load_failures_->WithLabels({spec.name, version.name, std::to_string(version.version)})
        ->Increment();
    spdlog::error(
        "deployment '{}': {} '{}' moved to model {} v{}, which cannot be served ({}); "
        "v{} stays",
        spec.name, role, ref, version.name, version.version, servable.ToString(),
        previous->model.version.version);
    arm = *previous;
    arm.load_error = fmt::format("v{}: {}", version.version, servable.ToString());
    return arm;
  }
  arm.model = {std::move(version), std::move(runtime).value()};
  arm.metrics = Metrics(d, arm.model.version, role);
  return arm;
}

Result<std::shared_ptr<const TrafficRouter::Route>> TrafficRouter::Build(
    const Deployment& d, std::optional<uint64_t> gen, const std::string& pinned,
    const Route* previous) {
  auto route = std::make_shared<Route>();
  route->deployment = &d;
  route->generation = gen;
  route->pinned = pinned;
  const DeploymentSpec& spec = *d.spec;
  std::vector<TrafficTargetSpec> entries = spec.traffic;
  if (!pinned.empty()) entries = {{pinned, 0, spec.line}};
  if (entries.empty()) entries.push_back({spec.alias, 0, spec.line});
  const bool split = entries.size() > 1;
  std::vector<size_t> bucket_counts(entries.size(), 0);
  if (split) {
    for (uint16_t arm : d.buckets) ++bucket_counts[arm];
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const Arm* before =
        previous != nullptr && previous->pinned == pinned ? &previous->arms[i] : nullptr;
    ASSIGN_OR_RETURN(Arm arm, BuildArm(d, entries[i].ref, std::string(kServed), before));
    arm.weight = entries[i].weight;
    arm.share = split ? static_cast<double>(bucket_counts[i]) / kBuckets : 1.0;
    route->arms.push_back(std::move(arm));
  }
  if (spec.shadow) {
    const Arm* before = previous != nullptr && previous->shadow ? &*previous->shadow : nullptr;
    Result<Arm> shadow = BuildArm(d, spec.shadow->target.ref, std::string(kShadowRole), before);
    if (shadow.ok()) {
      route->shadow = std::move(shadow).value();
    } else {
      route->shadow_error = shadow.status().ToString();
      spdlog::warn("deployment '{}': no shadow: {}", spec.name, route->shadow_error);
    }
  }
  return std::shared_ptr<const Route>(std::move(route));
}

Result<std::shared_ptr<const TrafficRouter::Route>> TrafficRouter::Current(
    const std::string& deployment, const std::string& pinned) {
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) {
    return Status::NotFound(fmt::format("unknown deployment '{}'", deployment));
  }
  Deployment& d = *it->second;
  if (d.spec->model_by) {
    return Status::FailedPrecondition(fmt::format(
        "deployment '{}' picks its model per entity (model_by): it has no traffic split",
        deployment));
  }
  std::atomic<std::shared_ptr<const Route>>& slot = pinned.empty() ? d.route : d.pinned_route;
  std::optional<uint64_t> gen = registry_->generation();
  auto fresh = [&](const std::shared_ptr<const Route>& r) {
    return r && gen && r->generation == gen && r->pinned == pinned;
  };
  std::shared_ptr<const Route> route = slot.load(std::memory_order_acquire);
  if (fresh(route)) return route;
  // The registry or the pin changed (or cannot tell): one caller rebuilds, the others wait for
  // its Route rather than serve one older than a move that already returned.
  std::lock_guard<std::mutex> lock(d.refresh_mu);
  gen = registry_->generation();
  route = slot.load(std::memory_order_acquire);
  if (fresh(route)) return route;
  ASSIGN_OR_RETURN(route, Build(d, gen, pinned, route.get()));
  slot.store(route, std::memory_order_release);
  return route;
}

Status TrafficRouter::ScoreArm(const Arm& arm, const float* input, size_t rows, size_t cols,
                               MicroBatcher* batcher, MicroBatcher::Announcement* announced,
                               std::vector<float>* out) {
  auto start = std::chrono::steady_clock::now();
  Status st = batcher != nullptr
                  ? batcher->Predict(arm.model.runtime, input, rows, cols, out, announced)
                  : arm.model.runtime->Predict(input, rows, cols, out);
  arm.metrics->requests->Increment();
  arm.metrics->rows->Increment(static_cast<double>(rows));
  arm.metrics->latency->Observe(Elapsed(start));
  if (!st.ok()) arm.metrics->errors->Increment();
  return st;
}

Status TrafficRouter::Score(const std::shared_ptr<const Route>& route,
                            const EntityColumns& entities, const float* input, size_t rows,
                            size_t cols, MicroBatcher* batcher,
                            MicroBatcher::Announcement* announced, std::vector<double>* scores,
                            std::vector<int64_t>* versions) {
  const Deployment& d = *route->deployment;
  std::vector<float> served;
  if (route->arms.size() == 1) {
    const Arm& arm = route->arms[0];
    RETURN_IF_ERROR(ScoreArm(arm, input, rows, cols, batcher, announced, &served));
    versions->assign(rows, arm.model.version.version);
  } else {
    // Rows grouped by arm, each group scored in one call, outputs put back in row order.
    std::vector<std::vector<size_t>> groups(route->arms.size());
    for (size_t r = 0; r < rows; ++r) groups[d.ArmOf(entities, r)].push_back(r);
    versions->assign(rows, 0);
    std::optional<size_t> width;  // outputs per row
    std::vector<float> group_input, group_out;
    for (size_t a = 0; a < groups.size(); ++a) {
      const std::vector<size_t>& group = groups[a];
      if (group.empty()) continue;
      group_input.resize(group.size() * cols);
      for (size_t i = 0; i < group.size(); ++i) {
        std::copy_n(input + group[i] * cols, cols, group_input.begin() + i * cols);
      }
      const Arm& arm = route->arms[a];
      RETURN_IF_ERROR(
          ScoreArm(arm, group_input.data(), group.size(), cols, batcher, announced, &group_out));
      announced = nullptr;  // ended by the first call
      const size_t k = group_out.size() / group.size();
      if (width && *width != k) {
        return Status::FailedPrecondition(fmt::format(
            "deployment '{}': its versions give different numbers of outputs per row ({} and {})",
            d.spec->name, *width, k));
      }
      width = k;
      served.resize(rows * k);
      for (size_t i = 0; i < group.size(); ++i) {
        std::copy_n(group_out.begin() + i * k, k, served.begin() + group[i] * k);
        (*versions)[group[i]] = arm.model.version.version;
      }
    }
  }
  scores->assign(served.begin(), served.end());
  if (route->shadow && rows > 0) {
    Shadow({route, std::vector<float>(input, input + rows * cols), std::move(served), rows, cols});
  }
  return Status::Ok();
}

void TrafficRouter::Shadow(ShadowJob job) {
  {
    std::lock_guard<std::mutex> lock(shadow_mu_);
    if (shadow_queue_.size() < kShadowQueue) {
      shadow_queue_.push_back(std::move(job));
      shadow_cv_.notify_one();
      return;
    }
  }
  job.route->deployment->shadow_dropped->Increment();
}

void TrafficRouter::ShadowLoop() {
  std::unique_lock<std::mutex> lock(shadow_mu_);
  while (true) {
    shadow_cv_.wait(lock, [this] { return stopping_ || !shadow_queue_.empty(); });
    if (shadow_queue_.empty()) return;  // stopping, with every queued call scored
    ShadowJob job = std::move(shadow_queue_.front());
    shadow_queue_.pop_front();
    shadow_busy_ = true;
    lock.unlock();
    RunShadow(job);
    lock.lock();
    shadow_busy_ = false;
    if (shadow_queue_.empty()) idle_cv_.notify_all();
  }
}

void TrafficRouter::RunShadow(const ShadowJob& job) {
  const Deployment& d = *job.route->deployment;
  const Arm& shadow = *job.route->shadow;
  std::vector<float> out;
  Status st = ScoreArm(shadow, job.input.data(), job.rows, job.cols, nullptr, nullptr, &out);
  if (st.ok() && out.size() != job.served.size()) {
    st = Status::FailedPrecondition(
        fmt::format("{} outputs for {} served ones", out.size(), job.served.size()));
  }
  if (!st.ok()) {
    spdlog::warn("deployment '{}': shadow model {} v{} failed: {}", d.spec->name,
                 shadow.model.version.name, shadow.model.version.version, st.ToString());
    return;
  }
  const size_t k = out.size() / job.rows;
  const double tolerance = d.spec->shadow->tolerance;
  size_t disagreeing = 0;
  double max_diff = 0;
  for (size_t r = 0; r < job.rows; ++r) {
    bool disagrees = false;
    for (size_t j = r * k; j < (r + 1) * k; ++j) {
      double diff = std::fabs(static_cast<double>(out[j]) - job.served[j]);
      d.shadow_diff->Observe(diff);
      max_diff = std::max(max_diff, diff);
      disagrees = disagrees || !(diff <= tolerance);  // NaN on one side disagrees
    }
    if (disagrees) ++disagreeing;
  }
  d.shadow_disagreements->Increment(static_cast<double>(disagreeing));
  spdlog::debug("deployment '{}': shadow model {} v{} scored {} rows, {} disagree, max |diff| {}",
                d.spec->name, shadow.model.version.name, shadow.model.version.version, job.rows,
                disagreeing, max_diff);
}

bool TrafficRouter::WaitForShadow(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(shadow_mu_);
  return idle_cv_.wait_for(lock, timeout,
                           [this] { return shadow_queue_.empty() && !shadow_busy_; });
}

AliasCheck TrafficRouter::CheckAndWarm(const std::string& model) {
  AliasCheck signatures = DeploymentAliasCheck(spec_, model);
  return [this, model, signatures](const std::string& alias, const ModelVersion& target) {
    RETURN_IF_ERROR(signatures(alias, target));
    std::optional<size_t> width;  // of a deployment scoring with the alias
    for (const auto& [name, d] : deployments_) {
      std::vector<std::string> refs = d->spec->Refs();
      if (d->spec->model == model && std::find(refs.begin(), refs.end(), alias) != refs.end()) {
        width = d->width;
      }
    }
    if (!width) return Status::Ok();
    auto refuse = [&](const Status& why) {
      return Status::FailedPrecondition(
          fmt::format("alias '{}' of model '{}' not moved: version {} cannot be served: {}", alias,
                      model, target.version, why.ToString()));
    };
    Result<std::shared_ptr<const ModelRuntime>> runtime = models_->Get(target);
    if (!runtime.ok()) return refuse(runtime.status());
    if ((*runtime)->input() != RuntimeInput::kFeatureRows) return Status::Ok();
    // Warm-up: the first predict of some runtimes allocates and initializes their internals.
    const size_t cols =
        target.num_features >= 0 ? static_cast<size_t>(target.num_features) : *width;
    std::vector<float> zero(cols, 0.0f), out;
    Status warmed = (*runtime)->Predict(zero.data(), 1, cols, &out);
    return warmed.ok() ? Status::Ok() : refuse(warmed);
  };
}

Result<TrafficRouter::TrafficReport> TrafficRouter::Describe(const std::string& deployment) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Route> route, Current(deployment));
  const Deployment& d = *route->deployment;
  TrafficReport report;
  report.model = d.spec->model;
  report.sticky_keys = d.keys;
  auto add = [&report](const Arm& arm, std::string_view role) {
    report.arms.push_back({std::string(role), arm, arm.metrics->requests->Value(),
                           arm.metrics->rows->Value(), arm.metrics->errors->Value()});
  };
  for (const Arm& arm : route->arms) add(arm, kServed);
  report.shadow_error = route->shadow_error;
  if (route->shadow) add(*route->shadow, kShadowRole);
  if (d.spec->shadow) {
    report.shadow_tolerance = d.spec->shadow->tolerance;
    report.shadow_disagreements = d.shadow_disagreements->Value();
    report.shadow_dropped = d.shadow_dropped->Value();
  }
  return report;
}

}  // namespace freshet

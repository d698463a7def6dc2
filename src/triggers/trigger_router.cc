#include "triggers/trigger_router.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>
#include <set>

#include "stream/entity_key.h"
#include "triggers/prediction.h"

namespace freshet {
namespace {

bool HasNullKey(const std::vector<Value>& key) {
  for (const Value& v : key) {
    if (v.is_null()) return true;
  }
  return false;
}

}  // namespace

Result<std::map<std::string, std::vector<TriggerRouter::Trigger>>> TriggerRouter::Compile(
    const ProjectSpec& spec) {
  std::map<std::string, std::vector<Trigger>> by_source;
  for (const auto& [name, deployment] : spec.deployments) {
    if (!deployment.on) continue;
    const TriggerSpec& on = *deployment.on;
    const SourceSpec& source = spec.sources.at(on.source);
    Trigger trigger{name, PredictQueueName(name), nullptr, {}, -1, on.debounce_ms};
    for (const std::string& key : DeploymentKeyFields(spec, deployment)) {
      trigger.key_fields.push_back(source.FieldIndex(key));  // present: checked by the loader
    }
    if (const InputRef* text = TextFromEvent(spec, deployment)) {
      trigger.text_field = source.FieldIndex(text->context_field);  // a string: the loader's check
    }
    if (!on.where.empty()) {
      NameResolver resolve = [&source](std::string_view field) -> std::optional<ResolvedName> {
        int index = source.FieldIndex(std::string(field));
        if (index < 0) return std::nullopt;
        return ResolvedName{index, source.fields[index].type};
      };
      auto where = Expr::CompileFilter(on.where, resolve);
      if (!where.ok()) {
        return Status::InvalidArgument(fmt::format("{}:{}: deployments.{}.on.where: {}",
                                                   spec.spec_path, on.where_line, name,
                                                   where.status().message()));
      }
      trigger.where = std::move(*where);
    }
    by_source[on.source].push_back(std::move(trigger));
  }
  return by_source;
}

Result<std::unique_ptr<TriggerRouter>> TriggerRouter::Create(const ProjectSpec* spec,
                                                             JobQueue* queue,
                                                             const PredictionStore* predictions,
                                                             const Clock* clock,
                                                             TriggerProbe* probe) {
  std::unique_ptr<TriggerRouter> router(new TriggerRouter(queue, predictions, clock, probe));
  ASSIGN_OR_RETURN(router->by_source_, Compile(*spec));
  return router;
}

Status TriggerRouter::Check(const ProjectSpec& spec) { return Compile(spec).status(); }

bool TriggerRouter::Matches(const Trigger& trigger, const Record& r, std::vector<Value>* key) {
  if (trigger.where && !trigger.where->Matches(r.values.data())) return false;
  key->clear();
  for (int field : trigger.key_fields) key->push_back(r.values[field]);
  if (trigger.text_field >= 0 && !r.values[trigger.text_field].is_string()) return false;
  return !HasNullKey(*key);  // a null key names no entity: the views skip it too
}

size_t TriggerRouter::JobsFor(const std::string& source, const std::vector<Record>& records) const {
  auto triggers = by_source_.find(source);
  if (triggers == by_source_.end()) return 0;
  size_t n = 0;
  std::vector<Value> key;
  for (const Trigger& trigger : triggers->second) {
    for (const Record& r : records) n += Matches(trigger, r, &key) ? 1 : 0;
  }
  return n;
}

bool TriggerRouter::Predicted(const std::string& deployment, const std::vector<Value>& key,
                              const TriggerEvent& event) const {
  auto history = predictions_->Get(deployment, key);
  if (!history.ok() || history->empty()) return false;
  const TriggerEvent& latest = history->front().event;
  return latest.source == event.source && latest.partition == event.partition &&
         latest.offset >= event.offset;
}

void TriggeredJobs::Append(TriggeredJobs&& other) {
  jobs.insert(jobs.end(), std::make_move_iterator(other.jobs.begin()),
              std::make_move_iterator(other.jobs.end()));
  deployments.insert(deployments.end(), other.deployments.begin(), other.deployments.end());
  for (std::string& source : other.sources) {
    if (std::find(sources.begin(), sources.end(), source) == sources.end()) {
      sources.push_back(std::move(source));
    }
  }
}

TriggeredJobs TriggerRouter::Route(const std::string& source, int32_t partition,
                                   uint64_t first_offset, const std::vector<Record>& records,
                                   bool replayed) const {
  TriggeredJobs out;
  auto triggers = by_source_.find(source);
  if (triggers == by_source_.end() || records.empty()) return out;
  out.sources.push_back(source);
  const int64_t now_ms = clock_->NowMs();
  PredictJob job;
  job.ack_ms = now_ms;
  job.event.source = source;
  job.event.partition = partition;
  for (const Trigger& trigger : triggers->second) {
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      if (!Matches(trigger, r, &job.key)) continue;
      job.event.offset = first_offset + i;
      job.event.event_ms = r.ts_ms;
      if (replayed && Predicted(trigger.deployment, job.key, job.event)) continue;
      job.text.reset();
      if (trigger.text_field >= 0) job.text = r.values[trigger.text_field].as_string();
      JobSpec spec;
      spec.id = PredictJobId(trigger.deployment, job.event);
      spec.queue = trigger.queue;
      // A text from the event is that record's own prediction: coalesced only under a debounce.
      if (trigger.text_field < 0 || trigger.debounce_ms > 0) {
        spec.coalesce_key = EncodeEntityKey(job.key);
      }
      spec.payload = EncodePredictJob(job);
      spec.delay_ms = trigger.debounce_ms;
      out.jobs.push_back(std::move(spec));
      out.deployments.push_back(&trigger.deployment);
    }
  }
  return out;
}

Status TriggerRouter::Enqueue(const TriggeredJobs& triggered) {
  if (triggered.jobs.empty()) return Status::Ok();
  auto results = queue_->EnqueueOrCoalesceBatch(triggered.jobs);
  if (!results.ok()) {
    std::set<const std::string*> failed(triggered.deployments.begin(),
                                        triggered.deployments.end());
    for (const std::string* deployment : failed) probe_->EnqueueFailed(*deployment);
    return results.status().WithContext(
        fmt::format("triggers of source '{}'", fmt::join(triggered.sources, "', '")));
  }
  std::map<const std::string*, std::pair<uint64_t, uint64_t>> counts;  // added, coalesced
  for (size_t i = 0; i < results->size(); ++i) {
    if ((*results)[i] == EnqueueResult::kAdded) ++counts[triggered.deployments[i]].first;
    if ((*results)[i] == EnqueueResult::kCoalesced) ++counts[triggered.deployments[i]].second;
  }
  for (const auto& [deployment, n] : counts) probe_->Triggered(*deployment, n.first, n.second);
  return Status::Ok();
}

}  // namespace freshet

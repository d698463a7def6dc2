#include "triggers/trigger_workers.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iterator>

#include "core/int_math.h"

namespace freshet {
namespace {

// How long a thread waits after a failed Receive before asking again.
constexpr auto kReceiveRetry = std::chrono::milliseconds(100);

// The PredictionRecord a stored prediction is delivered as.
PredictionRecord ToRecord(const std::string& deployment, const std::vector<std::string>& keys,
                          const std::vector<Value>& entity, const StoredPrediction& p) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteStoredPredictionJson(&w, deployment, keys, entity, p);
  return {p.job_id, deployment, p.predicted_ms, std::string(buf.GetString(), buf.GetSize())};
}

}  // namespace

TriggerWorkers::TriggerWorkers(const ProjectSpec* spec, JobQueue* queue, PredictionStore* store,
                               const Clock* clock, TriggerProbe* probe,
                               TriggerWorkersOptions options)
    : spec_(spec),
      queue_(queue),
      store_(store),
      clock_(clock),
      probe_(probe),
      options_(std::move(options)) {}

Result<std::unique_ptr<TriggerWorkers>> TriggerWorkers::Create(
    const ProjectSpec* spec, JobQueue* queue, Predictor* predictor, PredictionStore* store,
    const Clock* clock, TriggerProbe* probe, TriggerWorkersOptions options) {
  if (!options.predict) {
    options.predict = [predictor](const std::string& deployment, const EntityColumns& entities) {
      return predictor->Predict(deployment, entities);
    };
  }
  if (!options.score_texts) {
    options.score_texts = [predictor](const std::string& deployment,
                                      const std::vector<std::string>& texts) {
      return predictor->ScoreTexts(deployment, texts, kTriggeredTopK);
    };
  }
  std::unique_ptr<TriggerWorkers> workers(
      new TriggerWorkers(spec, queue, store, clock, probe, std::move(options)));
  for (const auto& [name, deployment] : spec->deployments) {
    if (!deployment.on) continue;
    Deployment d{name,
                 DeploymentKeyFields(*spec, deployment),
                 TextFromEvent(*spec, deployment) != nullptr,
                 {}};
    for (size_t i = 0; i < deployment.outputs.size(); ++i) {
      auto out = std::make_unique<Output>();
      out->deployment = name;
      out->index = i;
      out->queue = DeliverQueueName(name, i);
      auto sink = CreateSink(deployment.outputs[i]);
      if (!sink.ok()) {
        return sink.status().WithContext(fmt::format("deployment '{}' output {}", name, i));
      }
      out->sink = std::move(*sink);
      d.outputs.push_back(out.get());
      workers->outputs_.push_back(std::move(out));
    }
    workers->deployments_.push_back(std::move(d));
  }
  return workers;
}

TriggerWorkers::~TriggerWorkers() { Stop(); }

void TriggerWorkers::Start() {
  stopping_ = false;
  for (const Deployment& d : deployments_) {
    for (int i = 0; i < options_.workers; ++i) {
      threads_.emplace_back([this, &d] { PredictLoop(&d); });
    }
  }
  for (auto& out : outputs_) {
    threads_.emplace_back([this, o = out.get()] { DeliverLoop(o); });
  }
}

void TriggerWorkers::Stop() {
  stopping_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void TriggerWorkers::PredictLoop(const Deployment* d) {
  const std::string queue = PredictQueueName(d->name);
  std::vector<Job> jobs;
  while (!stopping_) {
    jobs.clear();
    Result<size_t> received = queue_->Receive(queue, options_.max_batch, options_.poll_ms, &jobs);
    if (!received.ok()) {
      spdlog::warn("receiving from queue '{}': {}", queue, received.status().ToString());
      std::this_thread::sleep_for(kReceiveRetry);
      continue;
    }
    if (!jobs.empty()) ProcessPredictions(*d, jobs);
  }
}

void TriggerWorkers::ProcessPredictions(const Deployment& d, const std::vector<Job>& jobs) {
  Status st = PredictAndDeliver(d, jobs);
  if (st.ok()) return;
  probe_->PredictFailed(d.name);
  spdlog::warn("predict jobs of '{}' failed (retried): {}", d.name, st.ToString());
  NackAll(jobs, st);
}

Status TriggerWorkers::PredictAndDeliver(const Deployment& d, const std::vector<Job>& jobs) {
  std::vector<PredictJob> payloads(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    RETURN_IF_ERROR(DecodePredictJob(jobs[i].payload, &payloads[i]));
  }
  ASSIGN_OR_RETURN(Prediction prediction, Score(d, jobs, payloads));
  const int64_t now_ms = clock_->NowMs();
  std::vector<EntityPrediction> stored;
  std::vector<PredictionRecord> records;  // what every output delivers
  std::vector<std::pair<std::string, uint64_t>> leases;
  stored.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const PredictJob& job = payloads[i];
    StoredPrediction p;
    p.job_id = jobs[i].id;
    p.model = prediction.model;
    p.version = prediction.version;
    if (prediction.labels.empty()) {
      p.score = prediction.scores.at(i);
    } else {
      p.labels = prediction.labels.at(i);
      p.score = p.labels->empty() ? 0 : p.labels->front().probability;
    }
    p.event = job.event;
    p.ack_ms = job.ack_ms;
    p.enqueued_ms = jobs[i].enqueued_ms;
    p.predicted_ms = now_ms;
    if (!d.outputs.empty()) records.push_back(ToRecord(d.name, d.keys, job.key, p));
    leases.emplace_back(jobs[i].id, jobs[i].lease);
    stored.push_back({job.key, std::move(p)});
  }
  std::vector<JobSpec> deliveries;
  if (!d.outputs.empty()) {
    const std::string payload = EncodePredictionRecords(records);
    for (const Output* out : d.outputs) {
      deliveries.push_back(
          JobSpec{DeliverJobId(jobs.front().id, out->index), out->queue, "", payload, 0});
    }
  }
  RETURN_IF_ERROR(store_->Put(d.name, stored, [&](rocksdb::WriteBatch* batch) {
    return queue_->Complete(leases, deliveries, batch);
  }));
  probe_->Predicted(d.name, jobs.size());
  for (const PredictJob& job : payloads) {
    probe_->Latency(d.name, static_cast<double>(now_ms - job.ack_ms) / 1000.0);
  }
  return Status::Ok();
}

Result<Prediction> TriggerWorkers::Score(const Deployment& d, const std::vector<Job>& jobs,
                                         const std::vector<PredictJob>& payloads) {
  if (d.text_from_event) {
    std::vector<std::string> texts;
    texts.reserve(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (!payloads[i].text) {
        return Status::InvalidArgument(fmt::format(
            "predict job '{}' carries no text, but deployment '{}' reads its text from the event",
            jobs[i].id, d.name));
      }
      texts.push_back(*payloads[i].text);
    }
    return options_.score_texts(d.name, texts);
  }
  EntityColumns entities;
  for (size_t k = 0; k < d.keys.size(); ++k) {
    std::vector<Value>& column = entities[d.keys[k]];
    for (const PredictJob& job : payloads) column.push_back(job.key[k]);
  }
  return options_.predict(d.name, entities);
}

void TriggerWorkers::DeliverLoop(Output* out) {
  std::vector<Job> jobs;
  int failures = 0;  // consecutive failed deliveries
  while (!stopping_) {
    jobs.clear();
    Result<size_t> received =
        queue_->Receive(out->queue, options_.max_batch, options_.poll_ms, &jobs);
    if (!received.ok()) {
      spdlog::warn("receiving from queue '{}': {}", out->queue, received.status().ToString());
      std::this_thread::sleep_for(kReceiveRetry);
      continue;
    }
    if (jobs.empty()) continue;
    if (ProcessDeliveries(out, jobs)) {
      failures = 0;
      continue;
    }
    PauseUnlessStopping(
        CappedBackoff(options_.delivery_pause_base_ms, options_.delivery_pause_max_ms, ++failures));
  }
}

void TriggerWorkers::PauseUnlessStopping(int64_t ms) const {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stopping_) {
    const auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        left, std::chrono::milliseconds(options_.poll_ms)));
  }
}

bool TriggerWorkers::ProcessDeliveries(Output* out, const std::vector<Job>& jobs) {
  std::vector<PredictionRecord> batch;
  for (const Job& job : jobs) {
    Status st = DecodePredictionRecords(job.payload, &batch);
    if (!st.ok()) {
      NackAll(jobs, st);  // retried, then dead-lettered: inspectable rather than lost
      return true;        // the sink is not at fault
    }
  }
  // At most max_batch records per Deliver: a job holds a whole predict batch.
  for (size_t begin = 0; begin < batch.size(); begin += options_.max_batch) {
    const auto first = batch.begin() + static_cast<std::ptrdiff_t>(begin);
    const auto last = batch.begin() + static_cast<std::ptrdiff_t>(
                                          std::min(batch.size(), begin + options_.max_batch));
    const std::vector<PredictionRecord> chunk(std::make_move_iterator(first),
                                              std::make_move_iterator(last));
    Status st = out->sink->Deliver(chunk);
    if (!st.ok()) {
      probe_->DeliveryFailed(out->deployment, out->index);
      spdlog::warn("delivering to output {} of '{}' ({}): {}", out->index, out->deployment,
                   out->sink->kind(), st.ToString());
      NackAll(jobs, st);  // the chunks delivered already are delivered again: at least once
      return false;
    }
  }
  probe_->Delivered(out->deployment, out->index, batch.size());
  Status st = AckAll(jobs);
  if (!st.ok()) spdlog::warn("acking deliveries of '{}': {}", out->queue, st.ToString());
  return true;
}

Status TriggerWorkers::AckAll(const std::vector<Job>& jobs) {
  std::vector<std::pair<std::string, uint64_t>> leases;
  leases.reserve(jobs.size());
  for (const Job& job : jobs) leases.emplace_back(job.id, job.lease);
  return queue_->AckBatch(leases);
}

void TriggerWorkers::NackAll(const std::vector<Job>& jobs, const Status& why) {
  for (const Job& job : jobs) {
    Status st = queue_->Nack(job.id, job.lease, why.ToString());
    if (!st.ok()) spdlog::warn("nacking job '{}': {}", job.id, st.ToString());
  }
}

}  // namespace freshet

// TriggerWorkers: the threads that turn predict jobs into stored and delivered predictions, off
// the ingest path (a slow model slows nothing but its own queue).
//
// Per triggered deployment, `workers` predict threads each Receive up to `max_batch` jobs of
// queue "predict/<deployment>" and, for the batch:
//   1. score the entities in one Predictor call at the current time — or, for a deployment
//      whose text comes from the event (prediction.h: TextFromEvent), the texts the jobs carry
//      in one Predictor::ScoreTexts call (top label and its probability per job);
//   2. in one atomic write (PredictionStore::Put with JobQueue::Complete): store the
//      predictions (each entity's latest + history), enqueue one delivery job per output of
//      the deployment in queue "deliver/<deployment>/<output index>" (id "<first job id of the
//      batch>#<output index>", payload the batch's PredictionRecords, each with the predict
//      job's id as its `id`: what receivers dedupe by; a full queue does not refuse them: it
//      must drain), and Ack the jobs. So a job retried after a crash or a failure has left no
//      prediction behind, and never yields a second, different one. Any failure Nacks the
//      jobs instead, and the queue retries them with backoff (dead letter after its max
//      attempts).
// Per output, one delivery thread Receives up to `max_batch` delivery jobs of its queue and
// calls Sink::Deliver with their records, at most `max_batch` records per call: AckBatch once
// every call succeeded, Nack each job on an error. A sink that is down keeps its deliveries in
// the queue until it is back; the other outputs and ingest do not wait for it. After a failed
// Deliver the thread pauses before its next Receive (delivery_pause_base_ms, doubled per
// consecutive failure up to delivery_pause_max_ms; reset by a success), so a sink that is down
// costs one batch per pause rather than a receive and a nack of every delivery whose own
// backoff has run out.
//
// Thread-safety: Start and Stop from one thread. Owns its sinks and threads; everything it is
// given must outlive it.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "queue/job_queue.h"
#include "serving/predictor.h"
#include "sinks/sink.h"
#include "spec/project_spec.h"
#include "triggers/prediction_store.h"
#include "triggers/trigger_probe.h"

namespace freshet {

// Scores the entities of one batch of a deployment.
using PredictFn =
    std::function<Result<Prediction>(const std::string& deployment, const EntityColumns& entities)>;
// Scores the texts of one batch of a deployment whose text comes from the event: one entry of
// Prediction::labels per text.
using ScoreTextsFn = std::function<Result<Prediction>(const std::string& deployment,
                                                      const std::vector<std::string>& texts)>;

// Labels a triggered text prediction keeps: the most probable one, with its probability.
inline constexpr int32_t kTriggeredTopK = 1;

struct TriggerWorkersOptions {
  // Predict threads per triggered deployment (`serve --trigger-workers`). Default: 2.
  int workers = 2;
  // Most jobs one Receive takes (one model call, one sink call). Default: 64.
  size_t max_batch = 64;
  // How long an idle thread's Receive waits for jobs; bounds how long Stop takes. Default: 100 ms.
  int64_t poll_ms = 100;
  // A delivery thread's pause after a failed Deliver (see above). Defaults: 50 ms, 2 s.
  int64_t delivery_pause_base_ms = 50;
  int64_t delivery_pause_max_ms = 2000;
  // Scores a batch. Default (empty): Predictor::Predict at the current time.
  PredictFn predict;
  // Scores a batch of texts from events. Default (empty): Predictor::ScoreTexts, kTriggeredTopK.
  ScoreTextsFn score_texts;
};

class TriggerWorkers {
 public:
  // Creates the sink of every output of every triggered deployment (sinks/sink.h: CreateSink).
  // Errors: CreateSink's, naming the deployment.
  static Result<std::unique_ptr<TriggerWorkers>> Create(const ProjectSpec* spec, JobQueue* queue,
                                                        Predictor* predictor,
                                                        PredictionStore* store, const Clock* clock,
                                                        TriggerProbe* probe,
                                                        TriggerWorkersOptions options);
  ~TriggerWorkers();
  TriggerWorkers(const TriggerWorkers&) = delete;
  TriggerWorkers& operator=(const TriggerWorkers&) = delete;

  // Starts the threads.
  void Start();
  // Stops and joins the threads (within about poll_ms plus the batch in hand). Jobs received
  // and not yet acked come back to the queue when their visibility timeout expires.
  void Stop();

 private:
  struct Output {
    std::string deployment;
    size_t index = 0;
    std::string queue;
    std::unique_ptr<Sink> sink;
  };
  struct Deployment {
    std::string name;
    std::vector<std::string> keys;  // DeploymentKeyFields
    bool text_from_event = false;   // TextFromEvent: scored on the jobs' texts
    std::vector<Output*> outputs;
  };

  TriggerWorkers(const ProjectSpec* spec, JobQueue* queue, PredictionStore* store,
                 const Clock* clock, TriggerProbe* probe, TriggerWorkersOptions options);
  void PredictLoop(const Deployment* d);
  void DeliverLoop(Output* out);
  // Steps 1-2 above for one received batch.
  void ProcessPredictions(const Deployment& d, const std::vector<Job>& jobs);
  Status PredictAndDeliver(const Deployment& d, const std::vector<Job>& jobs);
  // Scores the jobs of a batch, one row each: their texts or their entities.
  // kInvalidArgument for a job of a text-from-event deployment that carries no text.
  Result<Prediction> Score(const Deployment& d, const std::vector<Job>& jobs,
                           const std::vector<PredictJob>& payloads);
  // False when the sink refused the batch (the jobs are nacked either way on an error).
  bool ProcessDeliveries(Output* out, const std::vector<Job>& jobs);
  // Sleeps `ms`, in slices of at most poll_ms, returning early once Stop was called.
  void PauseUnlessStopping(int64_t ms) const;
  Status AckAll(const std::vector<Job>& jobs);
  void NackAll(const std::vector<Job>& jobs, const Status& why);

  const ProjectSpec* spec_;
  JobQueue* queue_;
  PredictionStore* store_;
  const Clock* clock_;
  TriggerProbe* probe_;
  TriggerWorkersOptions options_;
  std::vector<std::unique_ptr<Output>> outputs_;
  std::vector<Deployment> deployments_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace freshet

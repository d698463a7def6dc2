// TriggerRouter: turns applied records into prediction jobs. For each deployment with `on:`
// (spec/project_spec.h: TriggerSpec), every record of its source that matches the trigger's
// `where` filter enqueues one predict job in queue "predict/<deployment>" (prediction.h):
//   id            "<deployment>/<source>/<partition>/<offset>"   (so a replayed event dedupes)
//   coalesce_key  the entity key (a pending job of the entity takes the newer event instead)
//   delay         the trigger's debounce
//   payload       PredictJob: the entity's key values, the event, the apply (ack) wall time
// A record with a null key field names no entity and triggers nothing.
// A deployment whose service reads its text from `context.NAME` (TextFromEvent) takes the text
// from the record's field NAME: the job carries it (prediction.h says why), every record gets
// its own prediction (no coalesce key unless the trigger has a debounce), and a record whose
// NAME is null triggers nothing.
// All the jobs of one applied batch go to the queue in one EnqueueOrCoalesceBatch, durable when
// it returns.
//
// The caller routes records after the engine has applied them (so the prediction reads
// features that include them): the instance's commit hook with JobsOf, handing the jobs to a
// TriggerHandOff (trigger_handoff.h) that enqueues them off the ingest acknowledgement path.
// The replay at startup and a live source's consumer call OnReplayed: events after the last
// checkpoint trigger again, and dedupe by job id in the queue, or — for an event that was
// coalesced into an earlier job, whose own id the queue never kept — because its entity's
// latest prediction already reflects it.
//
// Thread-safety: every method may be called concurrently. Owns nothing it is given.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "format/record.h"
#include "queue/job_queue.h"
#include "spec/project_spec.h"
#include "stream/expr.h"
#include "triggers/prediction_store.h"
#include "triggers/trigger_probe.h"

namespace freshet {

// The predict jobs some applied records trigger, not yet enqueued (TriggerRouter::JobsOf).
struct TriggeredJobs {
  std::vector<JobSpec> jobs;
  std::vector<const std::string*> deployments;  // of each job; the router's, live as long as it
  std::vector<std::string> sources;             // the records' sources, for error messages

  // Appends `other`'s jobs after these (enqueued in one batch, in this order).
  void Append(TriggeredJobs&& other);
};

class TriggerRouter {
 public:
  // Compiles every deployment's trigger. kInvalidArgument for a bad `where`, naming the file,
  // line and field: "freshet.yaml:31: deployments.recommend.on.where: column 7: unknown name
  // 'evnt'". `spec`, `queue`, `clock` and `probe` must outlive the router.
  static Result<std::unique_ptr<TriggerRouter>> Create(const ProjectSpec* spec, JobQueue* queue,
                                                       const PredictionStore* predictions,
                                                       const Clock* clock, TriggerProbe* probe);
  // Compiles the triggers of `spec` only (for `freshet apply`): the errors of Create.
  static Status Check(const ProjectSpec& spec);

  // True when some deployment is triggered by `source`.
  bool Triggers(const std::string& source) const { return by_source_.count(source) > 0; }

  // How many predict jobs `records` of `source` trigger (before any coalescing).
  size_t JobsFor(const std::string& source, const std::vector<Record>& records) const;

  // The jobs `records` (applied at offsets first_offset.. of `source`'s `partition`) trigger,
  // each stamped with the current time as its apply time. Reads nothing.
  TriggeredJobs JobsOf(const std::string& source, int32_t partition, uint64_t first_offset,
                       const std::vector<Record>& records) const {
    return Route(source, partition, first_offset, records, /*replayed=*/false);
  }
  // Enqueues `triggered` in one batch, durable when it returns, and counts it in the probe.
  // Errors: the queue's (kResourceExhausted when full, kIoError), naming the sources.
  Status Enqueue(const TriggeredJobs& triggered);

  // Enqueues the jobs of records applied again by a replay or consumed from a live source, as
  // JobsOf makes them, skipping each record whose entity's latest prediction was triggered by
  // this source and partition at its offset or later.
  Status OnReplayed(const std::string& source, int32_t partition, uint64_t first_offset,
                    const std::vector<Record>& records) {
    return Enqueue(Route(source, partition, first_offset, records, /*replayed=*/true));
  }

 private:
  struct Trigger {
    std::string deployment;
    std::string queue;
    std::shared_ptr<const Expr> where;  // null: every record
    std::vector<int> key_fields;        // source field indexes, in DeploymentKeyFields order
    int text_field = -1;                // the source field the text comes from; -1: none
    int64_t debounce_ms = 0;
  };

  TriggerRouter(JobQueue* queue, const PredictionStore* predictions, const Clock* clock,
                TriggerProbe* probe)
      : queue_(queue), predictions_(predictions), clock_(clock), probe_(probe) {}
  static Result<std::map<std::string, std::vector<Trigger>>> Compile(const ProjectSpec& spec);
  TriggeredJobs Route(const std::string& source, int32_t partition, uint64_t first_offset,
                      const std::vector<Record>& records, bool replayed) const;
  // The entity key `r` triggers `trigger` for, or false (no match, or a null key field).
  static bool Matches(const Trigger& trigger, const Record& r, std::vector<Value>* key);
  // True when the entity's latest prediction of `deployment` reflects `event` already.
  bool Predicted(const std::string& deployment, const std::vector<Value>& key,
                 const TriggerEvent& event) const;

  JobQueue* queue_;
  const PredictionStore* predictions_;
  const Clock* clock_;
  TriggerProbe* probe_;
  std::map<std::string, std::vector<Trigger>> by_source_;  // read-only after Create
};

}  // namespace freshet

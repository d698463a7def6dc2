// The JSON of the prediction queue, shared by the HTTP API (api_queue.cc) and `freshet queue`:
//   stats:     {"held": N, "capacity": M, "queues": [{"queue", "ready", "delayed", "in_flight",
//               "dead", "oldest_age_ms", "retries", "dead_lettered", "coalesced"}, ...]}
//   dead job:  {"id", "queue", "payload", "enqueued_ms", "dead_ms", "receive_count",
//               "last_error"}; a payload that is not valid UTF-8 is "payload_hex" instead.
//   listing:   {"dead": [<dead job>, ...]} (oldest first)
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "queue/job_queue.h"

namespace freshet {

void WriteQueueStatsJson(JsonWriter* w, const JobQueue::QueueStats& s);
std::string QueueStatsToJson(const std::vector<JobQueue::QueueStats>& stats, size_t held,
                             size_t capacity);
void WriteDeadJobJson(JsonWriter* w, const Job& job);
std::string DeadJobsToJson(const std::vector<Job>& jobs);

}  // namespace freshet

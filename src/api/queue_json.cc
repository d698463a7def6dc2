#include "api/queue_json.h"

namespace freshet {
namespace {

void Str(JsonWriter* w, const char* key, std::string_view value) {
  w->Key(key);
  w->String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace

void WriteQueueStatsJson(JsonWriter* w, const JobQueue::QueueStats& s) {
  w->StartObject();
  Str(w, "queue", s.queue);
  w->Key("ready");
  w->Uint64(s.ready);
  w->Key("delayed");
  w->Uint64(s.delayed);
  w->Key("in_flight");
  w->Uint64(s.in_flight);
  w->Key("dead");
  w->Uint64(s.dead);
  w->Key("oldest_age_ms");
  w->Int64(s.oldest_age_ms);
  w->Key("retries");
  w->Uint64(s.retries);
  w->Key("dead_lettered");
  w->Uint64(s.dead_lettered);
  w->Key("coalesced");
  w->Uint64(s.coalesced);
  w->EndObject();
}

std::string QueueStatsToJson(const std::vector<JobQueue::QueueStats>& stats, size_t held,
                             size_t capacity) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("held");
  w.Uint64(held);
  w.Key("capacity");
  w.Uint64(capacity);
  w.Key("queues");
  w.StartArray();
  for (const auto& s : stats) WriteQueueStatsJson(&w, s);
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

void WriteDeadJobJson(JsonWriter* w, const Job& job) {
  w->StartObject();
  Str(w, "id", job.id);
  Str(w, "queue", job.queue);
  if (simdjson::validate_utf8(job.payload.data(), job.payload.size())) {
    Str(w, "payload", job.payload);
  } else {
    Str(w, "payload_hex", Hex(job.payload));
  }
  w->Key("enqueued_ms");
  w->Int64(job.enqueued_ms);
  w->Key("dead_ms");
  w->Int64(job.dead_ms);
  w->Key("receive_count");
  w->Int(job.receive_count);
  Str(w, "last_error", job.last_error);
  w->EndObject();
}

std::string DeadJobsToJson(const std::vector<Job>& jobs) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("dead");
  w.StartArray();
  for (const Job& job : jobs) WriteDeadJobJson(&w, job);
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

}  // namespace freshet

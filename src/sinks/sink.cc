#include "sinks/sink.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>

#include "sinks/file_sink.h"
#include "sinks/kafka_sink.h"
#include "sinks/webhook_sink.h"

namespace freshet {
namespace {

struct SinkEntry {
  std::string_view kind;
  Result<std::unique_ptr<Sink>> (*create)(const OutputSpec& output);
};

Result<std::unique_ptr<Sink>> MakeFileSink(const OutputSpec& output) {
  ASSIGN_OR_RETURN(std::unique_ptr<FileSink> sink, FileSink::Open(output.path));
  return std::unique_ptr<Sink>(std::move(sink));
}

Result<std::unique_ptr<Sink>> MakeWebhookSink(const OutputSpec& output) {
  ASSIGN_OR_RETURN(std::unique_ptr<WebhookSink> sink, WebhookSink::Create(output));
  return std::unique_ptr<Sink>(std::move(sink));
}

Result<std::unique_ptr<Sink>> MakeKafkaSink(const OutputSpec& output) {
  KafkaSinkOptions options;
  options.topic = output.topic;
  options.brokers = output.brokers;
  ASSIGN_OR_RETURN(std::unique_ptr<KafkaSink> sink, KafkaSink::Create(std::move(options)));
  return std::unique_ptr<Sink>(std::move(sink));
}

// Adding a kind is one line here (plus its files).
constexpr std::array<SinkEntry, 3> kKinds = {{
    {FileSink::kKind, &MakeFileSink},
    {WebhookSink::kKind, &MakeWebhookSink},
    {KafkaSink::kKind, &MakeKafkaSink},
}};

void AppendJsonString(std::string_view text, std::string* out) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  out->append(buffer.GetString(), buffer.GetSize());
}

}  // namespace

Result<std::unique_ptr<Sink>> CreateSink(const OutputSpec& output) {
  for (const SinkEntry& entry : kKinds) {
    if (entry.kind == output.kind) return entry.create(output);
  }
  return Status::InvalidArgument(
      fmt::format("output kind '{}' is not built in this version (built: {})", output.kind,
                  fmt::join(KnownSinkKinds(), ", ")));
}

std::vector<std::string> KnownSinkKinds() {
  std::vector<std::string> kinds;
  for (const SinkEntry& entry : kKinds) kinds.emplace_back(entry.kind);
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

void AppendPredictionJson(const PredictionRecord& record, std::string* out) {
  out->append("{\"id\":");
  AppendJsonString(record.id, out);
  out->append(",\"deployment\":");
  AppendJsonString(record.deployment, out);
  out->append(fmt::format(",\"ts_ms\":{},\"prediction\":", record.ts_ms));
  out->append(record.json.empty() ? "null" : record.json);
  out->push_back('}');
}

}  // namespace freshet

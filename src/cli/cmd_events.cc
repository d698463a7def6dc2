#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "core/json.h"
#include "core/time_util.h"
#include "instance/instance.h"

namespace freshet::cli {
namespace {

// The flags of `events late` and `events quarantine`.
struct LateFlags {
  ProjectFlags project;
  std::string source;
  size_t limit = 100;
};

// One NDJSON line: {"offset", "ts_ms", "watermark_ms", "record": {field: value}}.
std::string LateEventJson(const SourceSpec& source, const LateEvent& e) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("offset");
  w.Uint64(e.offset);
  w.Key("ts_ms");
  w.Int64(e.record.ts_ms);
  w.Key("watermark_ms");
  w.Int64(e.watermark_ms);
  w.Key("record");
  w.StartObject();
  for (size_t i = 0; i < source.fields.size() && i < e.record.values.size(); ++i) {
    const std::string& name = source.fields[i].name;
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    WriteJsonValue(&w, e.record.values[i]);
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status ShowLate(const LateFlags& f) {
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  ASSIGN_OR_RETURN(auto instance, Instance::Open(options));
  if (!instance->spec().sources.count(f.source)) {
    return Status::NotFound(fmt::format("unknown source '{}'", f.source));
  }
  ASSIGN_OR_RETURN(std::vector<LateEvent> late, instance->engine()->ListLate(f.source, f.limit));
  const SourceSpec& source = instance->spec().sources.at(f.source);
  if (!f.project.json) {
    fmt::print("{} late events of '{}' (newest first; {} counted in all)\n", late.size(), f.source,
               instance->engine()->stats().late_events);
  }
  for (const LateEvent& e : late) {
    std::string fields;
    for (size_t i = 0; i < source.fields.size() && i < e.record.values.size(); ++i) {
      fields += fmt::format("{}{}={}", fields.empty() ? "" : " ", source.fields[i].name,
                            e.record.values[i].ToString());
    }
    if (f.project.json) {
      fmt::print("{}\n", LateEventJson(source, e));
    } else {
      fmt::print("offset {}  event time {}  missed watermark {} by {}  {}\n", e.offset,
                 FormatRfc3339Ms(e.record.ts_ms), FormatRfc3339Ms(e.watermark_ms),
                 FormatDurationMs(e.watermark_ms - e.record.ts_ms), fields);
    }
  }
  return Status::Ok();
}

// One NDJSON line: {"id", "quarantined_ms", "violations": [...], "record": {field: value}}.
std::string QuarantinedJson(const SourceSpec& source, const QuarantinedRecord& q) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("id");
  w.Uint64(q.id);
  w.Key("quarantined_ms");
  w.Int64(q.quarantined_ms);
  w.Key("violations");
  w.StartArray();
  for (const std::string& v : q.violations) {
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndArray();
  w.Key("record");
  w.StartObject();
  for (size_t i = 0; i < source.fields.size() && i < q.record.values.size(); ++i) {
    const std::string& name = source.fields[i].name;
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    WriteJsonValue(&w, q.record.values[i]);
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status ShowQuarantine(const LateFlags& f) {
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  ASSIGN_OR_RETURN(auto instance, Instance::Open(options));
  if (!instance->spec().sources.count(f.source)) {
    return Status::NotFound(fmt::format("unknown source '{}'", f.source));
  }
  ASSIGN_OR_RETURN(std::vector<QuarantinedRecord> kept,
                   instance->quarantine()->List(f.source, f.limit));
  const SourceSpec& source = instance->spec().sources.at(f.source);
  if (!f.project.json) {
    fmt::print("{} quarantined records of '{}' (newest first)\n", kept.size(), f.source);
  }
  for (const QuarantinedRecord& q : kept) {
    if (f.project.json) {
      fmt::print("{}\n", QuarantinedJson(source, q));
    } else {
      fmt::print("#{}  quarantined {}  {}\n", q.id, FormatRfc3339Ms(q.quarantined_ms),
                 fmt::join(q.violations, "; "));
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterEvents(CLI::App* app) {
  CLI::App* events = app->add_subcommand("events", "Inspect the event log");
  events->require_subcommand(1);
  auto f = std::make_shared<LateFlags>();
  CLI::App* late = events->add_subcommand(
      "late", "Show the dead letter: events that arrived later than the allowed lateness");
  f->project.AddTo(late);
  late->add_option("--source,-s", f->source, "Source name")->required();
  late->add_option("--limit", f->limit, "How many (newest first)")->capture_default_str();
  late->callback([f] {
    Status st = ShowLate(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
  auto q = std::make_shared<LateFlags>();
  CLI::App* quarantine = events->add_subcommand(
      "quarantine", "Show the quarantine: records kept out by a quarantine expectation");
  q->project.AddTo(quarantine);
  quarantine->add_option("--source,-s", q->source, "Source name")->required();
  quarantine->add_option("--limit", q->limit, "How many (newest first)")->capture_default_str();
  quarantine->callback([q] {
    Status st = ShowQuarantine(*q);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli

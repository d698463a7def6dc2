#include <fmt/format.h>

#include "api/api_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "core/json.h"
#include "core/time_util.h"
#include "instance/instance.h"
#include "instance/quarantine_store.h"

namespace freshet::cli {
namespace {

// The flags of `events late` and `events quarantine`.
struct LateFlags {
  ProjectFlags project;
  std::string source;
  size_t limit = 100;
};

// One dead-letter entry as an NDJSON line (api/api_json.h: the entries of the HTTP listings).
template <typename Entry>
std::string EntryJson(void (*write)(JsonWriter*, const SourceSpec&, const Entry&),
                      const SourceSpec& source, const Entry& entry) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  write(&w, source, entry);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The data directory opened for `f.source`; kNotFound for a source the project lacks.
Result<std::unique_ptr<Instance>> OpenForSource(const LateFlags& f) {
  InstanceOptions options;
  options.project_dir = f.project.project_dir;
  options.data_dir = f.project.DataDir();
  ASSIGN_OR_RETURN(auto instance, Instance::Open(options));
  if (!instance->spec().sources.count(f.source)) {
    return Status::NotFound(fmt::format("unknown source '{}'", f.source));
  }
  return instance;
}

Status ShowLate(const LateFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenForSource(f));
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
      fmt::print("{}\n", EntryJson(WriteLateEventJson, source, e));
    } else {
      fmt::print("offset {}  event time {}  missed watermark {} by {}  {}\n", e.offset,
                 FormatRfc3339Ms(e.record.ts_ms), FormatRfc3339Ms(e.watermark_ms),
                 FormatDurationMs(e.watermark_ms - e.record.ts_ms), fields);
    }
  }
  return Status::Ok();
}

Status ShowQuarantine(const LateFlags& f) {
  ASSIGN_OR_RETURN(auto instance, OpenForSource(f));
  ASSIGN_OR_RETURN(std::vector<QuarantinedRecord> kept,
                   instance->quarantine()->List(f.source, f.limit));
  const SourceSpec& source = instance->spec().sources.at(f.source);
  if (!f.project.json) {
    fmt::print("{} quarantined records of '{}' (newest first)\n", kept.size(), f.source);
  }
  for (const QuarantinedRecord& q : kept) {
    if (f.project.json) {
      fmt::print("{}\n", EntryJson(WriteQuarantinedJson, source, q));
    } else {
      std::string at = q.partition ? fmt::format("partition {} offset {}", *q.partition, q.id)
                                   : fmt::format("#{}", q.id);
      fmt::print("{}  quarantined {}  {}\n", at, FormatRfc3339Ms(q.quarantined_ms),
                 fmt::join(q.violations, "; "));
    }
  }
  return Status::Ok();
}

// `events NAME --source S [--limit N]`, running `show`.
void AddDeadLetterCommand(CLI::App* events, const char* name, const char* description,
                          Status (*show)(const LateFlags&)) {
  auto f = std::make_shared<LateFlags>();
  CLI::App* command = events->add_subcommand(name, description);
  f->project.AddTo(command);
  command->add_option("--source,-s", f->source, "Source name")->required();
  command->add_option("--limit", f->limit, "How many (newest first)")->capture_default_str();
  command->callback([f, show] {
    Status st = show(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace

void RegisterEvents(CLI::App* app) {
  CLI::App* events = app->add_subcommand("events", "Inspect the event log");
  events->require_subcommand(1);
  AddDeadLetterCommand(events, "late",
                       "Show the dead letter: events that arrived later than the allowed lateness",
                       ShowLate);
  AddDeadLetterCommand(events, "quarantine",
                       "Show the quarantine: records kept out by a quarantine expectation",
                       ShowQuarantine);
}

}  // namespace freshet::cli

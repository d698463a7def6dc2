#include "sources/source.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "sources/event_log_source.h"
#include "sources/file_source.h"
#include "sources/kafka_source.h"

namespace freshet {
namespace {

struct SourceEntry {
  std::string_view kind;
  Result<std::unique_ptr<Source>> (*create)(const SourceSpec& source, const SourceContext& context);
};

Result<std::unique_ptr<Source>> MakeEventLogSource(const SourceSpec& source,
                                                   const SourceContext& context) {
  if (context.log == nullptr) {
    return Status::InvalidArgument(
        fmt::format("source '{}': kind http needs the event log", source.name));
  }
  return std::unique_ptr<Source>(std::make_unique<EventLogSource>(source.name, context.log));
}

Result<std::unique_ptr<Source>> MakeFileSource(const SourceSpec& source,
                                               const SourceContext& context) {
  return std::unique_ptr<Source>(
      std::make_unique<FileSource>(*context.spec, source.name, context.threads));
}

Result<std::unique_ptr<Source>> MakeKafkaSource(const SourceSpec& source,
                                                const SourceContext& context) {
  ASSIGN_OR_RETURN(std::unique_ptr<KafkaSource> kafka,
                   KafkaSource::Create(*context.spec, source.name));
  return std::unique_ptr<Source>(std::move(kafka));
}

// Adding a kind is one line here (plus its files).
constexpr std::array<SourceEntry, 3> kKinds = {{
    {FileSource::kKind, &MakeFileSource},
    {EventLogSource::kKind, &MakeEventLogSource},
    {KafkaSource::kKind, &MakeKafkaSource},
}};

}  // namespace

Result<std::unique_ptr<Source>> CreateSource(const SourceSpec& source,
                                             const SourceContext& context) {
  std::string_view kind = SourceKindName(source.kind);
  if (context.spec == nullptr || context.spec->sources.count(source.name) == 0) {
    return Status::InvalidArgument(
        fmt::format("source '{}' is not a source of the project", source.name));
  }
  for (const SourceEntry& entry : kKinds) {
    if (entry.kind == kind) return entry.create(source, context);
  }
  if (source.kind == SourceKind::kTable) {
    return Status::InvalidArgument(fmt::format(
        "source '{}': kind table is not read as events; its rows are loaded into the table "
        "store (tables/table_store.h)",
        source.name));
  }
  return Status::InvalidArgument(
      fmt::format("source '{}': kind '{}' is not built in this version (built: {})", source.name,
                  kind, fmt::join(KnownSourceKinds(), ", ")));
}

void CommittedPosition::Advance(const SourcePosition& position) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [partition, offset] : position) {
    uint64_t& committed = position_[partition];
    committed = std::max(committed, offset);
  }
}

SourcePosition CommittedPosition::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return position_;
}

std::vector<std::string> KnownSourceKinds() {
  std::vector<std::string> kinds;
  for (const SourceEntry& entry : kKinds) kinds.emplace_back(entry.kind);
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

}  // namespace freshet

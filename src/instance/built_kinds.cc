#include "instance/built_kinds.h"

#include <algorithm>

#include "models/model_runtime.h"
#include "serving/request_features.h"
#include "sinks/sink.h"
#include "sources/source.h"

namespace freshet {

BuiltKinds BuiltInThisVersion() {
  std::vector<std::string> sources = KnownSourceKinds();
  // Table sources are not read as event streams (no Source): their rows are loaded into the
  // TableStore (tables/table_store.h).
  sources.emplace_back(SourceKindName(SourceKind::kTable));
  std::sort(sources.begin(), sources.end());
  return BuiltKinds{std::move(sources), KnownSinkKinds(), KnownRuntimes(),
                    KnownRequestFeatureFns()};
}

}  // namespace freshet

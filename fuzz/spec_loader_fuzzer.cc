// freshet.yaml text through the spec loader; a project that loads is compiled view by view
// (expressions, windows, durations) and printed as the `apply` plan.
#include <cstddef>
#include <cstdint>
#include <string>

#include "spec/plan.h"
#include "spec/spec_loader.h"
#include "stream/compiled_view.h"

using namespace freshet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = ParseProject(text, "freshet.yaml");
  if (!spec.ok()) return 0;
  for (const auto& [name, view] : spec->feature_views) {
    auto compiled = CompiledView::Compile(*spec, view);
    if (!compiled.ok()) continue;
    auto state = (*compiled)->NewState();
    std::vector<Value> out;
    (*compiled)->ReadEntity(state.get(), 0, {}, &out);
  }
  FormatPlan(*spec);
  FormatPlanJson(*spec);
  return 0;
}

// What this build implements, read from the registries themselves (sources/source.h,
// sinks/sink.h, models/model_runtime.h, serving/request_features.h), so the list `freshet apply`
// checks a spec against (spec's CheckBuiltKinds) cannot drift from what the factories create.
#pragma once

#include "spec/project_spec.h"

namespace freshet {

BuiltKinds BuiltInThisVersion();

}  // namespace freshet

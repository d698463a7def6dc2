// Loading freshet.yaml into a validated ProjectSpec.
#pragma once

#include <string>

#include "core/status.h"
#include "spec/project_spec.h"

namespace freshet {

// Reads DIR/freshet.yaml. Errors are kInvalidArgument with messages of the form
//   "freshet.yaml:12: feature_views.user_activity.features.events_10m.window: bad duration '10x'"
// naming the file, the line and the field. Checks references (a view's entity and source, a
// feature's `of` field, a service's view:feature refs, a deployment's model and service) and
// that entity key fields and the timestamp field exist in each source's schema.
// Expressions (`where`, `expr`) are kept as text; the stream module compiles them.
Result<ProjectSpec> LoadProject(const std::string& dir);

// The same from YAML text; `spec_path` is used in messages.
Result<ProjectSpec> ParseProject(const std::string& yaml_text, const std::string& spec_path);

// Parses "view:feature". kInvalidArgument when it has no ':'.
Result<FeatureRef> ParseFeatureRef(const std::string& text);

}  // namespace freshet

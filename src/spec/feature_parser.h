// Parsing one feature of a feature view (`features.<name>: {agg: ..., window: ...}`) into a
// FeatureSpec: the aggregation and its input field, the window kind, the per-aggregation
// options, or a derived expression. Internal to the spec module (used by spec_loader.cc).
#pragma once

#include "core/status.h"
#include "spec/project_spec.h"
#include "spec/yaml_reader.h"

namespace freshet {

// Fills `*feature` from `entry`, checking it against `source`, the view's source (its `of`
// field must exist and, for numeric aggregations, be int64 or double). Expressions are kept as
// text; errors name the feature's file, line and key.
Status ParseFeature(const YamlReader& reader, const YamlEntry& entry, const SourceSpec& source,
                    FeatureSpec* feature);

}  // namespace freshet

// The plan `freshet apply` prints: what a validated ProjectSpec defines, in a human form and as
// JSON (`--json`). Pure functions of the spec; thread-safe.
#pragma once

#include <string>

#include "spec/project_spec.h"

namespace freshet {

// The human-readable plan, one section per kind of object (entities, sources, feature views,
// feature services, models, deployments), ending in a newline. Features are described like
// "count over sliding 10m where event = 'exit'".
std::string FormatPlan(const ProjectSpec& spec);

// The same as one JSON object (no trailing newline): {"project", "spec_path", "entities": [...],
// "sources": [...], "feature_views": [...], "feature_services": [...], "models": [...],
// "deployments": [...]}, each list sorted by name, durations in milliseconds.
std::string FormatPlanJson(const ProjectSpec& spec);

// One feature in words: "sum of duration_s over hopping 1d, hop 1h where event = 'end'",
// "top_k(3) of category over sliding 1h", "expr a / nullif(b, 0)".
std::string DescribeFeature(const FeatureSpec& feature);

}  // namespace freshet

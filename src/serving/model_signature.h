// What a model version reads, as freshet.yaml defines it, and the checks that a deployment's
// feature service matches the version it serves.
//
// A feature service's signature is its features in order, each as "view:feature" with the type
// of value the model is fed, derived from the feature's definition:
//   an aggregation                                AggResultType (spec/project_spec.h): "int64",
//                                                 "double", ... ; "list" for last_n and top_k
//   a table attribute (attr)                      the type of the table field
//   a derived feature (expr)                      "derived"
// A service with a text input (`text:`) starts with {"view:feature" or "context.NAME", "text"};
// its request features follow its features, each {name, "fn(model)"}.
// Its spec hash (ModelLineage::feature_spec_hash) is the SHA-256 of a canonical JSON document
// built from the parsed spec, not from freshet.yaml's bytes, so comments, key order, formatting
// and the service's own name do not change it, while any change to what the model is fed does:
//   {"features": ["view:feature", ...],                       (service order)
//    "text": "context.q",                                      (only with a text input)
//    "request_features": [{"name", "fn", "model", "of"}, ...], (only with request features)
//    "views": [{"name", "entity", "keys": [...], "ttl_ms",     (views read, sorted by name)
//               "source": {"name", "kind", "timestamp_field", "allowed_lateness_ms",
//                          "fields": [{"name", "type"}, ...]},
//               "features": [{"name", "agg", "of", "where", "expr", "window", "window_ms",
//                             "hop_ms", "session_gap_ms", "n", "approx"}, ...]}]}
// Every feature of a view read is included: a derived feature may use any of them. The views
// read include those of the text input and of request features' inputs.
//
// Thread-safety: free functions; the spec and registry are only read.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "models/registry.h"
#include "spec/project_spec.h"

namespace freshet {

// kNotFound for an unknown service.
Result<std::vector<FeatureSignature>> ServiceSignature(const ProjectSpec& spec,
                                                       const std::string& service);
// 64 lowercase hex digits; kNotFound for an unknown service.
Result<std::string> FeatureSpecHash(const ProjectSpec& spec, const std::string& service);

// Records `service` in `options`: its signature, lineage.feature_service and
// lineage.feature_spec_hash. kNotFound for an unknown service.
Status BindFeatureService(const ProjectSpec& spec, const std::string& service,
                          RegisterOptions* options);

// The signature type of a text input.
inline constexpr std::string_view kTextType = "text";

// Whether `version` can serve `deployment`: a text model (fasttext) needs a service with a text
// input and a feature-row model one without; its signature (or, when it recorded none, its input
// width) must equal the deployment's feature service's. kFailedPrecondition naming the deployment,
// the version and the first differing feature, e.g.
//   deployment 'rank' (feature service 'recs') cannot serve model "ctr" version 3: feature 2 is
//   'activity:clicks_1h' (int64) in the model's signature but 'activity:clicks_10m' (int64) in
//   the service
Status CheckSignature(const ProjectSpec& spec, const DeploymentSpec& deployment,
                      const ModelVersion& version);

// The deployments of `model` with each reference they score with (DeploymentSpec::Refs: the
// alias, or the traffic entries, and the shadow), for ModelRegistry::DeleteVersion. A `model_by`
// deployment uses every model its template names, and its fallback, at its alias.
std::vector<ModelUse> DeploymentUses(const ProjectSpec& spec, const std::string& model);

// An AliasCheck for `model`: when an alias moves that a deployment of the model scores with
// (served or shadow), the
// target version must match that deployment's service. `spec` must outlive the check.
AliasCheck DeploymentAliasCheck(const ProjectSpec* spec, const std::string& model);

// Checks every reference of every deployment that resolves in `registry` (a model not registered
// yet, or an alias not set, is skipped: there is nothing to mismatch). The first mismatch.
// `model_by` deployments are skipped: their models are checked as a row first uses them.
Status CheckDeployments(const ProjectSpec& spec, const ModelRegistry& registry);

}  // namespace freshet

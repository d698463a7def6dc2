// JSON forms of feature reads, shared by the HTTP API and the CLI:
//   freshet's own  (POST /v1/features):
//     {"as_of_ms": T, "features": ["view:f", ...],
//      "rows": [{"entity": {"user_id": "u1"}, "values": [...], "statuses": [...],
//                "event_timestamps": [...]}, ...]}
//   Feast's        (POST /get-online-features): metadata.feature_names (entity keys first) and
//     one results entry per column with values/statuses/event_timestamps.
// And the request side: parsing {"features"|"feature_service", "entities", "as_of"}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/feature_store.h"

namespace freshet {

struct FeatureRequest {
  std::vector<FeatureRef> features;
  EntityColumns entities;
  std::vector<std::string> entity_order;  // key names in request order
  std::optional<int64_t> as_of_ms;
  bool full_feature_names = false;  // Feast: "view__feature" names
};

// Parses a /v1/features or Feast request body against `store` (feature refs and services are
// checked). Errors name the field: "entities: expected an object of key -> array of values".
// With `fixed_features` (a deployment's service), the body names no features.
Result<FeatureRequest> ParseFeatureRequest(std::string_view body, const FeatureStore& store,
                                           const std::vector<FeatureRef>* fixed_features = nullptr);

// The status's name in quotes ("PRESENT"), for ResponseWriter::Quoted (core/json.h).
std::string_view QuotedStatus(ReadStatus status);

std::string FeatureTableToJson(const FeatureRequest& request, const FeatureTable& table,
                               int64_t as_of_ms);
std::string FeatureTableToFeastJson(const FeatureRequest& request, const FeatureTable& table);

}  // namespace freshet

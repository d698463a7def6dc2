// The public API's JSON encodings of registry and ingest results. These are the API's own
// shapes, separate from the storage records (models/registry_codec.h): they carry no on-disk
// `format` field and no server filesystem path, so the data directory's layout can change
// without changing the API, and clients learn nothing about the server's disk.
//
// A model version:
//   {"name": "churn", "version": 3, "runtime": "xgboost", "aliases": ["champion"],
//    "created": "2026-01-01T00:00:00.000Z", "created_ms": 1767225600000,
//    "content_hash": "<sha256 hex>", "num_features": 20, "description": "...",
//    "metrics": {"auc": 0.91}, "params": {...},
//    "signature": [{"name": "activity:clicks_10m", "type": "int64"}, ...],
//    "lineage": {"training_data", "training_data_sha256", "holdout", "holdout_sha256",
//                "feature_service", "feature_spec_hash", "runtime_library", "created_by"},
//    "tags": {...}}
// (`aliases`: the model's aliases pointing at this version, sorted; non-finite metrics: null;
// lineage members are "" when not recorded.)
// A model: {"name", "created", "created_ms", "latest_version", "versions": [1, 2, 4],
//           "aliases": {alias: version}, "tags": {...}, "alias_history": [<alias change>...],
//           "latest": <model version>}
// A model list: {"models": [<model>, ...]}
// An alias change: {"alias", "version", "previous", "at", "at_ms", "by", "rollback"}
//   (version 0: the alias was removed; previous 0: it did not exist)
// A promotion: {"name", "alias": "champion", "version", "previous", "reason"}
// A deleted version: {"name", "version", "deleted": true}
// An ingest acknowledgement: {"accepted": N, "first_offset": O, "duplicate": false}, plus
//   "quarantined": Q, "warnings": W for a source with expectations
//
// Shared by the HTTP handlers and the CLI's --json output. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "format/parse_error.h"
#include "log/event_log.h"
#include "models/model_version.h"
#include "models/registry.h"
#include "spec/project_spec.h"
#include "stream/engine.h"

namespace freshet {

// `model_aliases` are all of the model's aliases (alias -> version); those naming `version`
// are listed.
void WriteModelVersionJson(JsonWriter* w, const ModelVersion& version,
                           const std::map<std::string, int64_t>& model_aliases);
std::string ModelVersionToJson(const ModelVersion& version,
                               const std::map<std::string, int64_t>& model_aliases);

void WriteModelInfoJson(JsonWriter* w, const ModelInfo& model);
std::string ModelInfoToJson(const ModelInfo& model);
std::string ModelListToJson(const std::vector<ModelInfo>& models);

void WriteAliasChangeJson(JsonWriter* w, const AliasChange& change);
std::string AliasChangeToJson(const AliasChange& change);
std::string PromoteResultToJson(const std::string& model, const PromoteResult& result);
// {"name", "version", "deleted": true}
std::string DeletedVersionToJson(const std::string& model, int64_t version);

struct IngestQuality;  // instance/instance.h

// The members of an ingest acknowledgement, written into an object the caller opened (the CLI
// adds the file name); with `quality` of a source with expectations, also
// "quarantined": Q, "warnings": W.
void WriteAppendAckMembers(JsonWriter* w, const AppendAck& ack,
                           const IngestQuality* quality = nullptr);
std::string AppendAckToJson(const AppendAck& ack, const IngestQuality* quality = nullptr);

struct QuarantinedRecord;  // instance/quarantine_store.h

// The dead letters' entries, shared by GET /v1/late|quarantine/{source} and `freshet events`:
// a late event {"offset", "ts_ms", "watermark_ms", "record": {field: value}} and a quarantined
// record {"id", "quarantined_ms", "violations": ["field 'x': expectation ..."], "record"}, with
// the record's values under `source`'s field names.
void WriteLateEventJson(JsonWriter* w, const SourceSpec& source, const LateEvent& e);
void WriteQuarantinedJson(JsonWriter* w, const SourceSpec& source, const QuarantinedRecord& q);

// The error details of a rejected record: {"line", "record", "field", "expectation"}, each only
// when known (a line for NDJSON, a record number for an array or a single object; the
// expectation when the record parsed but failed a reject-policy expectation).
std::string ParseErrorDetailsToJson(const ParseError& error);

}  // namespace freshet

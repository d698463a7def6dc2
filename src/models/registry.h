// ModelRegistry: named models with numbered, immutable versions and movable aliases, persisted
// in the data directory's Db (column family "registry", layout in src/models/README.md) with
// each version's artifact copied to <data_dir>/models/<name>/<version>/<file name>.
//
// A version, once registered, never changes: its artifact is the registry's own copy (later
// edits to the source file do not reach it) and no call rewrites its record. Only a model's
// aliases move ("champion", "challenger"...), which is how promotion and rollback work.
// Register validates before storing: the artifact must load with the named runtime, so a bad
// file leaves no record and no artifact behind.
//
// Ownership: the registry borrows `db` and `clock`; both must outlive it.
// Thread-safety: all methods are thread-safe. Writers (Register, SetAlias) are serialized by a
// mutex; readers take no lock, because every write is one atomic RocksDB batch and version
// records are immutable, so a reader sees either the old or the new state, never a mix.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "models/model_version.h"
#include "storage/db.h"

namespace freshet {

struct ModelRecord;  // models/registry_codec.h

// Descriptive data recorded with a version; none of it affects prediction. Every member has an
// initializer so callers can name just the fields they set ({.metrics = ...}) under -Wextra.
struct RegisterOptions {
  std::map<std::string, double> metrics{};
  std::map<std::string, std::string> params{};
  std::string description{};
  // Input order. When non-empty and the runtime knows its input width, the sizes must match.
  std::vector<std::string> feature_names{};
  std::map<std::string, std::string> lineage{};
};

class ModelRegistry {
 public:
  // The alias a model's first version receives automatically.
  static constexpr std::string_view kChampionAlias = "champion";
  // Resolve()'s name for the highest version; not usable as an alias.
  static constexpr std::string_view kLatestRef = "latest";

  // Opens the registry stored in `db`, with artifacts under `data_dir`/models (created when
  // missing). Removes staging leftovers of registrations interrupted by a crash, so open one
  // registry per data directory.
  static Result<std::unique_ptr<ModelRegistry>> Open(Db* db, const std::string& data_dir,
                                                     const Clock* clock);

  // Registers the file at `artifact_path` as the next version of `name` (1 for a new model),
  // to be served by `runtime`. Names: 1-128 characters of [A-Za-z0-9._-], not starting with '.'.
  // Errors: kInvalidArgument for a bad name, unknown runtime, missing file, an artifact the
  // runtime cannot load or feature_names of the wrong length; kIoError for storage failures.
  // The first version of a model becomes its "champion".
  Result<ModelVersion> Register(const std::string& name, const std::string& artifact_path,
                                const std::string& runtime, const RegisterOptions& options = {});

  // Every model, sorted by name.
  Result<std::vector<ModelInfo>> List() const;
  // kNotFound when the model does not exist.
  Result<ModelInfo> Get(const std::string& name) const;
  // kNotFound when the model or version does not exist.
  Result<ModelVersion> GetVersion(const std::string& name, int64_t version) const;
  // All versions of a model, oldest first; kNotFound when the model does not exist.
  Result<std::vector<ModelVersion>> ListVersions(const std::string& name) const;

  // Points `alias` at an existing `version`, creating or moving the alias. Aliases use the
  // name characters; "latest" and all-digit aliases are rejected because Resolve() reads them
  // as a version reference.
  Status SetAlias(const std::string& name, const std::string& alias, int64_t version);

  // Resolves "latest", a version number ("3") or an alias ("champion") to a version.
  // kNotFound when nothing matches; kInvalidArgument for an empty reference.
  Result<ModelVersion> Resolve(const std::string& name, std::string_view ref) const;

 private:
  ModelRegistry(Db* db, std::string data_dir, const Clock* clock);

  Result<std::optional<ModelRecord>> ReadModelRecord(const std::string& name) const;
  Result<ModelRecord> RequireModelRecord(const std::string& name) const;
  Result<ModelVersion> ReadVersion(const std::string& name, int64_t version) const;
  struct StagedArtifact {
    std::string path;  // <data_dir>/models/.staging/<id>/<file name>
    std::string content_hash;
  };
  // Copies the artifact into a fresh staging directory, outside the lock: a large copy must not
  // stall other writers.
  Result<StagedArtifact> StageArtifact(const std::string& artifact_path);
  // Gives `version` its number, moves the staged artifact into its version directory and writes
  // the records in one batch. Takes mu_.
  Result<ModelVersion> Commit(ModelVersion version, const std::string& staged_path);
  // Stored paths are relative to data_dir_ so a data directory can be moved.
  ModelVersion WithAbsolutePath(ModelVersion version) const;

  Db* db_;
  std::string data_dir_;
  const Clock* clock_;
  std::atomic<uint64_t> next_staging_id_{0};
  std::mutex mu_;  // Serializes writers: the read-modify-write of a model record.
};

}  // namespace freshet

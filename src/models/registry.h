// ModelRegistry: named models with numbered, immutable versions, movable aliases with a history,
// mutable tags, and content-addressed artifacts, persisted in the data directory's Db (column
// family "registry", layout in src/models/README.md) with each artifact stored once under
// <data_dir>/models/blobs/sha256/<hex><extension>.
//
// A version, once registered, never changes: its artifact is the registry's own copy (later
// edits to the source file do not reach it), its SHA-256 is recorded (and checked again by
// VerifyArtifact before serving) and no call rewrites its record. What moves: aliases
// ("champion", "challenger"...), which is how promotion and rollback work, and tags. Register
// validates before storing: the artifact must load with the named runtime, so a bad file
// leaves no record and no artifact behind.
//
// Ownership: the registry borrows `db` and `clock`; both must outlive it.
// Thread-safety: all methods are thread-safe. Writers are serialized by a mutex; readers take no
// lock, because every write is one atomic RocksDB batch and version records are immutable, so a
// reader sees either the old or the new state, never a mix.
//
// Resolve() caching: a registry from Open() remembers what Resolve() returned (the serving
// path resolves a deployment's alias on every request). Every writer bumps a generation counter
// under the writer mutex before it returns, and an entry is served only while the generation it
// was read at is current, so a Resolve() that starts after a write returned sees that write.
// Exact because the data directory's lock makes this process, and Open() its one writing
// registry, the only writer. A registry from OpenForReading() may trail another process's
// writer, so it does not cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
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
  std::vector<FeatureSignature> signature{};
  // Register fills lineage.runtime_library from the runtime, lineage.created_by (when empty)
  // from the OS user, and training_data_sha256 / holdout_sha256 (when empty) by hashing
  // training_data / holdout when those name local files.
  ModelLineage lineage{};
  // Initial version tags.
  std::map<std::string, std::string> tags{};
  // The name the artifact is registered under (its extension is kept in the blob's name, since
  // runtimes such as XGBoost pick the file format by it). Default: the file's own name.
  std::string artifact_name{};
};

// A deployment's reference to a model (freshet.yaml `deployments:`), for DeleteVersion.
struct ModelUse {
  std::string deployment;
  std::string ref;  // alias, "latest" or a version number
};

// Called with an alias and the version it is about to point at, before the move is written;
// an error cancels the move and is returned. Lets the caller check deployments' feature
// services against the version's signature (serving/model_signature.h).
using AliasCheck = std::function<Status(const std::string& alias, const ModelVersion& target)>;

struct PromoteOptions {
  std::string metric{};  // compared between candidate and champion; required unless force
  bool force = false;    // skips the comparison
  std::string by{};      // recorded in the alias history; Default: the OS user
};

struct PromoteResult {
  int64_t previous = 0;  // the champion before; 0 when there was none
  int64_t version = 0;   // the champion now
  std::string reason;    // why it was allowed, e.g. "auc 0.93 > 0.91 on the same holdout"
};

// Whether a larger value of `metric` is better: true for auc, accuracy, recall@k, ...; false for
// logloss, rmse, ...; nullopt for a metric the table (src/models/README.md) does not know.
std::optional<bool> MetricHigherIsBetter(std::string_view metric);

// Re-hashes the version's artifact and compares it with the recorded SHA-256. kFailedPrecondition
// naming the model, version and path when the file is missing, truncated or changed: such a version
// cannot be served.
Status VerifyArtifact(const ModelVersion& version);

// The effective OS user name ("uid N" when it has none): the default `by`.
std::string CurrentUser();

class ModelRegistry {
 public:
  // The alias a model's first version receives automatically; Promote and Rollback move it.
  static constexpr std::string_view kChampionAlias = "champion";
  // Resolve()'s name for the highest version; not usable as an alias.
  static constexpr std::string_view kLatestRef = "latest";

  // Opens the registry stored in `db`, with artifacts under `data_dir`/models (created when
  // missing). Removes staging leftovers of registrations interrupted by a crash, so open one
  // registry per data directory.
  static Result<std::unique_ptr<ModelRegistry>> Open(Db* db, const std::string& data_dir,
                                                     const Clock* clock);
  // Opens the registry for reading only, touching no file: for a read-only Db, possibly one a
  // running server is writing. Writes fail with the Db's error.
  static std::unique_ptr<ModelRegistry> OpenForReading(Db* db, const std::string& data_dir,
                                                       const Clock* clock);

  // Registers the file at `artifact_path` as the next version of `name` (1 for a new model),
  // to be served by `runtime`. Names: 1-128 characters of [A-Za-z0-9._-], not starting with '.'.
  // Errors: kInvalidArgument for a bad name, unknown runtime, missing file, an artifact the
  // runtime cannot load or a signature of the wrong length; kIoError for storage failures.
  // The first version of a model becomes its "champion".
  Result<ModelVersion> Register(const std::string& name, const std::string& artifact_path,
                                const std::string& runtime, const RegisterOptions& options = {});

  // Every model, sorted by name.
  Result<std::vector<ModelInfo>> List() const;
  // kNotFound when the model does not exist.
  Result<ModelInfo> Get(const std::string& name) const;
  // kNotFound when the model or version does not exist (or was deleted).
  Result<ModelVersion> GetVersion(const std::string& name, int64_t version) const;
  // All existing versions of a model, oldest first; kNotFound when the model does not exist.
  Result<std::vector<ModelVersion>> ListVersions(const std::string& name) const;

  // Points `alias` at an existing `version`, creating or moving the alias, after `check` (when
  // given) accepts. Aliases use the name characters; "latest" and all-digit aliases are
  // rejected because Resolve() reads them as a version reference. `by` defaults to the OS user.
  Status SetAlias(const std::string& name, const std::string& alias, int64_t version,
                  const std::string& by = "", const AliasCheck& check = nullptr);
  // Removes an alias; kNotFound when the model has no such alias.
  Status RemoveAlias(const std::string& name, const std::string& alias, const std::string& by = "");

  // Moves "champion" to `version` if it beats the current champion on options.metric, both
  // versions' lineage naming the same holdout (equal holdout_sha256). Otherwise
  // kFailedPrecondition saying why (no such metric on one of them, different or unrecorded
  // holdouts, not better, already champion); kInvalidArgument for a metric of unknown
  // direction. options.force skips the comparison. Without a champion the move is allowed.
  Result<PromoteResult> Promote(const std::string& name, int64_t version,
                                const PromoteOptions& options, const AliasCheck& check = nullptr);

  // Moves "champion" back to where it pointed before its newest move that was not itself rolled
  // back (repeated rollbacks walk further back). Returns the change made. kFailedPrecondition
  // when there is no earlier version or it was deleted.
  Result<AliasChange> Rollback(const std::string& name, const std::string& by = "",
                               const AliasCheck& check = nullptr);

  // Deletes a version's record (its number is never reused) and its artifact when no other
  // version stores the same bytes. Refused (kFailedPrecondition) when an alias points at it or
  // one of `uses` resolves to it (naming the alias or deployment), or when it is the model's
  // only version.
  Status DeleteVersion(const std::string& name, int64_t version,
                       const std::vector<ModelUse>& uses = {});

  // Sets and removes tags of the model (`version` 0) or of one version. Keys: 1-128 name
  // characters. kNotFound for an unknown model, version or removed key.
  Status UpdateTags(const std::string& name, int64_t version,
                    const std::map<std::string, std::string>& set,
                    const std::vector<std::string>& remove = {});

  // Resolves "latest", a version number ("3") or an alias ("champion") to a version.
  // kNotFound when nothing matches; kInvalidArgument for an empty reference.
  Result<ModelVersion> Resolve(const std::string& name, std::string_view ref) const;

  // The count of completed writes (see "Resolve() caching" above): while it is unchanged, every
  // Resolve() answers as before, so a caller may keep what it derived from resolutions read
  // after the value it saw. nullopt for a registry from OpenForReading(), which cannot tell.
  std::optional<uint64_t> generation() const {
    if (!cache_resolves_) return std::nullopt;
    return generation_.load(std::memory_order_acquire);
  }

 private:
  ModelRegistry(Db* db, std::string data_dir, const Clock* clock, bool cache_resolves);

  // Holds mu_ for one writer and, before releasing it, bumps generation_ so Resolve()'s cache
  // drops what it read before (also after a failed write: a needless miss, never a stale hit).
  class WriteLock {
   public:
    explicit WriteLock(ModelRegistry* registry) : registry_(registry), lock_(registry->mu_) {}
    ~WriteLock() { registry_->generation_.fetch_add(1, std::memory_order_release); }
    WriteLock(const WriteLock&) = delete;
    WriteLock& operator=(const WriteLock&) = delete;

   private:
    ModelRegistry* registry_;
    std::lock_guard<std::mutex> lock_;
  };

  // Resolve() without the cache: reads the model record and the version record.
  Result<ModelVersion> ResolveFromDb(const std::string& name, std::string_view ref) const;
  // The cached resolution of (name, ref) read at `generation`, if that is still the cache's.
  std::optional<ModelVersion> FindResolved(uint64_t generation, const std::string& name,
                                           std::string_view ref) const;
  // Caches `version` as read at `generation`; dropped when a newer generation was cached.
  void StoreResolved(uint64_t generation, const std::string& name, std::string_view ref,
                     const ModelVersion& version) const;

  Result<std::optional<ModelRecord>> ReadModelRecord(const std::string& name) const;
  Result<ModelRecord> RequireModelRecord(const std::string& name) const;
  // The stored version with its absolute path and the record's tags for it.
  Result<ModelVersion> ReadVersion(const ModelRecord& record, int64_t version) const;
  ModelInfo ToInfo(ModelRecord record, ModelVersion latest) const;
  struct StagedArtifact {
    std::string path;  // <data_dir>/models/.staging/<id>/<file name>
    std::string content_hash;
    int64_t size = 0;
  };
  // Copies the artifact into a fresh staging directory, outside the lock: a large copy must not
  // stall other writers.
  Result<StagedArtifact> StageArtifact(const std::string& artifact_path,
                                       const std::string& artifact_name);
  // Gives `version` its number, moves the staged artifact to its blob (unless the same bytes
  // are stored already) and writes the records in one batch. Takes mu_.
  Result<ModelVersion> Commit(ModelVersion version, const std::string& staged_path);
  // Records an alias move in `record` (history included), after `check`, and writes it. mu_ held.
  Status MoveAliasLocked(ModelRecord* record, const std::string& alias, int64_t version,
                         const std::string& by, bool rollback, const AliasCheck& check);
  // Whether any version of any model other than (name, version) stores `relative_path`. mu_ held.
  Result<bool> BlobSharedLocked(const std::string& relative_path, const std::string& name,
                                int64_t version) const;

  Db* db_;
  std::string data_dir_;
  const Clock* clock_;
  std::atomic<uint64_t> next_staging_id_{0};
  std::mutex mu_;  // Serializes writers: the read-modify-write of a model record.
  // Completed writer critical sections (WriteLock); read with acquire by Resolve().
  std::atomic<uint64_t> generation_{0};
  const bool cache_resolves_;
  // Resolve()'s cache: model name -> ref -> version, all read at resolved_generation_. Entries
  // exist only for refs that resolved; kMaxResolved bounds refs taken from requests ("007").
  static constexpr size_t kMaxResolved = 1024;
  mutable std::shared_mutex resolved_mu_;
  mutable uint64_t resolved_generation_ = 0;  // guarded by resolved_mu_
  mutable size_t resolved_count_ = 0;         // guarded by resolved_mu_
  mutable std::map<std::string, std::map<std::string, ModelVersion, std::less<>>, std::less<>>
      resolved_;  // guarded by resolved_mu_
};

}  // namespace freshet

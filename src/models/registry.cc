#include "models/registry.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "models/artifact_file.h"
#include "models/model_runtime.h"
#include "models/registry_codec.h"

namespace freshet {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxNameLength = 128;
// Under <data_dir>/models; model names cannot start with '.', so it never collides with one.
constexpr std::string_view kStagingDirName = ".staging";
// Under <data_dir>/models: artifacts by content.
constexpr std::string_view kBlobDir = "blobs/sha256";

// Names become directory names and key parts: no separators, no "." or "..".
Status ValidateName(std::string_view kind, std::string_view name) {
  auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.' ||
      !std::all_of(name.begin(), name.end(), is_name_char)) {
    return Status::InvalidArgument(
        fmt::format("invalid {} name \"{}\": use 1-{} characters of A-Z a-z 0-9 . _ - "
                    "not starting with '.'",
                    kind, name, kMaxNameLength));
  }
  return Status::Ok();
}

// The version number `ref` spells ("3"), or nullopt when it is not all digits.
std::optional<int64_t> ParseVersionRef(std::string_view ref) {
  int64_t version = 0;
  auto [end, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), version);
  if (ref.empty() || ec != std::errc() || end != ref.data() + ref.size() || ref.front() == '-') {
    return std::nullopt;
  }
  return version;
}

Status ValidateAlias(std::string_view alias) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  if (alias == ModelRegistry::kLatestRef || ParseVersionRef(alias).has_value()) {
    return Status::InvalidArgument(
        fmt::format("alias \"{}\" would read as a version reference", alias));
  }
  return Status::Ok();
}

Status CheckSignature(const std::vector<FeatureSignature>& signature, int64_t num_features) {
  if (signature.empty() || num_features < 0 ||
      static_cast<int64_t>(signature.size()) == num_features) {
    return Status::Ok();
  }
  return Status::InvalidArgument(fmt::format(
      "the signature lists {} features but the model takes {}", signature.size(), num_features));
}

Status FsError(const std::error_code& ec, std::string_view what, const fs::path& path) {
  return Status::IoError(fmt::format("cannot {} {}: {}", what, path.string(), ec.message()));
}

// Removes a file or directory tree when it goes out of scope, unless released (or empty): cleans
// up after every early return of a registration.
class PathRemover {
 public:
  explicit PathRemover(fs::path path) : path_(std::move(path)) {}
  ~PathRemover() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  PathRemover(const PathRemover&) = delete;
  PathRemover& operator=(const PathRemover&) = delete;
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

Status NoModel(const std::string& name) {
  return Status::NotFound(fmt::format("model \"{}\" not found", name));
}

Status NoVersion(const std::string& name, int64_t version) {
  return Status::NotFound(fmt::format("model \"{}\" has no version {}", name, version));
}

Result<int64_t> ResolveRef(const ModelRecord& record, std::string_view ref) {
  if (ref.empty()) return Status::InvalidArgument("empty model version reference");
  if (ref == ModelRegistry::kLatestRef) return record.LatestExisting();
  if (std::optional<int64_t> version = ParseVersionRef(ref)) {
    if (*version < 1 || *version > record.latest_version) return NoVersion(record.name, *version);
    if (record.IsDeleted(*version)) {
      return Status::NotFound(
          fmt::format("model \"{}\" version {} was deleted", record.name, *version));
    }
    return *version;
  }
  auto it = record.aliases.find(std::string(ref));
  if (it == record.aliases.end()) {
    return Status::NotFound(fmt::format("model \"{}\" has no alias \"{}\"", record.name, ref));
  }
  return it->second;
}

bool HasPrefix(const rocksdb::Slice& key, std::string_view prefix) {
  return key.starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
}

Status RequireExisting(const ModelRecord& record, int64_t version) {
  if (version < 1 || version > record.latest_version || record.IsDeleted(version)) {
    return NoVersion(record.name, version);
  }
  return Status::Ok();
}

// Fills the hash of a lineage file reference when it names a local file and none was given.
Status HashIfLocalFile(const std::string& path, std::string* sha256) {
  std::error_code ec;
  if (path.empty() || !sha256->empty() || !fs::is_regular_file(path, ec)) return Status::Ok();
  ASSIGN_OR_RETURN(*sha256, Sha256File(path));
  return Status::Ok();
}

std::string FormatMetric(double value) { return fmt::format("{:.6g}", value); }

// Metric direction, by exact name or by "name@" prefix (recall@10).
struct MetricDirection {
  std::string_view name;
  bool higher_is_better;
  bool at_k;  // matches "name@<k>"
};
constexpr MetricDirection kMetricDirections[] = {
    {"accuracy", true, false}, {"auc", true, false},      {"roc_auc", true, false},
    {"pr_auc", true, false},   {"f1", true, false},       {"precision", true, false},
    {"recall", true, false},   {"r2", true, false},       {"ndcg", true, false},
    {"map", true, false},      {"mrr", true, false},      {"recall", true, true},
    {"precision", true, true}, {"ndcg", true, true},      {"map", true, true},
    {"hit_rate", true, true},  {"logloss", false, false}, {"log_loss", false, false},
    {"rmse", false, false},    {"mse", false, false},     {"mae", false, false},
    {"mape", false, false},    {"error", false, false},
};

// Why `candidate` may replace `champion`, or why not: the comparison Promote makes.
Result<std::string> ComparePromotion(const ModelVersion& candidate, const ModelVersion& champion,
                                     const std::string& metric) {
  if (metric.empty()) {
    return Status::InvalidArgument("promote needs a metric to compare (or force)");
  }
  std::optional<bool> higher = MetricHigherIsBetter(metric);
  if (!higher) {
    return Status::InvalidArgument(fmt::format(
        "metric \"{}\" has no known direction (higher is better: accuracy, auc, f1, precision, "
        "recall, recall@k, ndcg@k...; lower: logloss, rmse, mse, mae...)",
        metric));
  }
  auto refuse = [&](std::string why) {
    return Status::FailedPrecondition(
        fmt::format("not promoting model \"{}\" version {} over champion version {}: {}",
                    candidate.name, candidate.version, champion.version, why));
  };
  for (const ModelVersion* v : {&candidate, &champion}) {
    auto it = v->metrics.find(metric);
    if (it == v->metrics.end() || std::isnan(it->second)) {
      return refuse(fmt::format("version {} has no {} metric", v->version, metric));
    }
    if (v->lineage.holdout_sha256.empty()) {
      return refuse(
          fmt::format("version {} records no holdout hash, so the {} values are not "
                      "comparable",
                      v->version, metric));
    }
  }
  if (candidate.lineage.holdout_sha256 != champion.lineage.holdout_sha256) {
    return refuse(fmt::format("they were evaluated on different holdouts (sha256 {} vs {})",
                              candidate.lineage.holdout_sha256.substr(0, 12),
                              champion.lineage.holdout_sha256.substr(0, 12)));
  }
  double c = candidate.metrics.at(metric), p = champion.metrics.at(metric);
  if (*higher ? !(c > p) : !(c < p)) {
    return refuse(fmt::format("{} {} does not beat {} ({} is better)", metric, FormatMetric(c),
                              FormatMetric(p), *higher ? "higher" : "lower"));
  }
  return fmt::format("{} {} {} {} on the same holdout", metric, FormatMetric(c),
                     *higher ? ">" : "<", FormatMetric(p));
}

Status WriteModelRecord(Db* db, const ModelRecord& record) {
  return db->Put(Cf::kRegistry, ModelKey(record.name), EncodeModelRecord(record), /*sync=*/true);
}

}  // namespace

std::optional<bool> MetricHigherIsBetter(std::string_view metric) {
  size_t at = metric.find('@');
  std::string_view base = metric.substr(0, at);
  for (const MetricDirection& d : kMetricDirections) {
    if (d.name != base) continue;
    if (at == std::string_view::npos && !d.at_k) return d.higher_is_better;
    if (at != std::string_view::npos && d.at_k && ParseVersionRef(metric.substr(at + 1))) {
      return d.higher_is_better;
    }
  }
  return std::nullopt;
}

Status VerifyArtifact(const ModelVersion& version) {
  auto refuse = [&](std::string_view why) {
    return Status::FailedPrecondition(
        fmt::format("model \"{}\" version {}: artifact {} {}; re-register it", version.name,
                    version.version, version.artifact_path, why));
  };
  std::error_code ec;
  uintmax_t size = fs::file_size(version.artifact_path, ec);
  if (ec) return refuse(fmt::format("cannot be read ({})", ec.message()));
  if (static_cast<int64_t>(size) != version.artifact_size) {
    return refuse(fmt::format("has {} bytes, {} were registered (truncated or changed)", size,
                              version.artifact_size));
  }
  Result<std::string> hash = Sha256File(version.artifact_path);
  if (!hash.ok()) return refuse(fmt::format("cannot be read ({})", hash.status().message()));
  if (*hash != version.content_hash) {
    return refuse(fmt::format("is corrupt: sha256 {}, registered {}", *hash, version.content_hash));
  }
  return Status::Ok();
}

std::string CurrentUser() {
  uid_t uid = ::geteuid();
  struct passwd pw;
  struct passwd* found = nullptr;
  std::array<char, 4096> buffer;
  if (::getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return fmt::format("uid {}", uid);
}

ModelRegistry::ModelRegistry(Db* db, std::string data_dir, const Clock* clock, bool cache_resolves)
    : db_(db), data_dir_(std::move(data_dir)), clock_(clock), cache_resolves_(cache_resolves) {}

Result<std::unique_ptr<ModelRegistry>> ModelRegistry::Open(Db* db, const std::string& data_dir,
                                                           const Clock* clock) {
  fs::path models = fs::path(data_dir) / "models";
  fs::path staging = models / kStagingDirName;
  std::error_code ec;
  fs::remove_all(staging, ec);  // Leftovers of registrations a crash interrupted.
  if (ec) return FsError(ec, "clean", staging);
  for (const fs::path& dir : {staging, models / kBlobDir}) {
    fs::create_directories(dir, ec);
    if (ec) return FsError(ec, "create", dir);
  }
  return std::unique_ptr<ModelRegistry>(
      new ModelRegistry(db, data_dir, clock, /*cache_resolves=*/true));
}

std::unique_ptr<ModelRegistry> ModelRegistry::OpenForReading(Db* db, const std::string& data_dir,
                                                             const Clock* clock) {
  return std::unique_ptr<ModelRegistry>(
      new ModelRegistry(db, data_dir, clock, /*cache_resolves=*/false));
}

Result<ModelVersion> ModelRegistry::Register(const std::string& name,
                                             const std::string& artifact_path,
                                             const std::string& runtime,
                                             const RegisterOptions& options) {
  RETURN_IF_ERROR(ValidateName("model", name));
  for (const auto& [key, value] : options.tags) RETURN_IF_ERROR(ValidateName("tag", key));
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRuntime> model, CreateRuntime(runtime));
  std::error_code ec;
  if (!fs::is_regular_file(artifact_path, ec)) {
    return Status::InvalidArgument(fmt::format("model artifact {} is not a file", artifact_path));
  }
  std::string artifact_name = options.artifact_name.empty()
                                  ? fs::path(artifact_path).filename().string()
                                  : options.artifact_name;
  if (artifact_name.find('/') != std::string::npos || artifact_name == "." ||
      artifact_name == "..") {
    return Status::InvalidArgument(
        fmt::format("artifact name \"{}\" must be a plain file name", artifact_name));
  }
  ModelVersion version;
  version.name = name;
  version.runtime = runtime;
  version.artifact_name = artifact_name;
  version.description = options.description;
  version.metrics = options.metrics;
  version.params = options.params;
  version.signature = options.signature;
  version.lineage = options.lineage;
  version.tags = options.tags;
  RETURN_IF_ERROR(
      HashIfLocalFile(version.lineage.training_data, &version.lineage.training_data_sha256));
  RETURN_IF_ERROR(HashIfLocalFile(version.lineage.holdout, &version.lineage.holdout_sha256));
  if (version.lineage.created_by.empty()) version.lineage.created_by = CurrentUser();
  std::string library = model->library_version();
  version.lineage.runtime_library = library.empty() ? "" : fmt::format("{} {}", runtime, library);

  ASSIGN_OR_RETURN(StagedArtifact staged, StageArtifact(artifact_path, artifact_name));
  PathRemover staging_dir(fs::path(staged.path).parent_path());
  Status loaded = model->Load(staged.path);
  if (!loaded.ok()) {
    return loaded.WithContext(fmt::format("artifact rejected for model \"{}\"", name));
  }
  RETURN_IF_ERROR(CheckSignature(options.signature, model->num_features()));
  version.content_hash = std::move(staged.content_hash);
  version.artifact_size = staged.size;
  version.num_features = model->num_features();
  return Commit(std::move(version), staged.path);
}

Result<ModelRegistry::StagedArtifact> ModelRegistry::StageArtifact(
    const std::string& artifact_path, const std::string& artifact_name) {
  fs::path dir = fs::path(data_dir_) / "models" / kStagingDirName /
                 std::to_string(next_staging_id_.fetch_add(1));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return FsError(ec, "create", dir);
  StagedArtifact staged;
  staged.path = (dir / artifact_name).string();
  Result<std::string> hash = CopyAndHashFile(artifact_path, staged.path);
  if (!hash.ok()) {
    fs::remove_all(dir, ec);
    return hash.status();
  }
  staged.content_hash = std::move(hash).value();
  staged.size = static_cast<int64_t>(fs::file_size(staged.path, ec));
  if (ec) return FsError(ec, "stat", staged.path);
  return staged;
}

Result<ModelVersion> ModelRegistry::Commit(ModelVersion version, const std::string& staged_path) {
  WriteLock lock(this);
  ASSIGN_OR_RETURN(std::optional<ModelRecord> existing, ReadModelRecord(version.name));
  ModelRecord record;
  version.created_ms = clock_->NowMs();
  bool first = !existing.has_value();
  if (existing) {
    record = std::move(*existing);
  } else {
    record.name = version.name;
    record.created_ms = version.created_ms;
  }
  version.version = record.latest_version + 1;
  record.latest_version = version.version;
  if (!version.tags.empty()) record.version_tags[version.version] = version.tags;
  if (first) {
    record.aliases.emplace(kChampionAlias, 1);
    record.alias_history.push_back(
        {std::string(kChampionAlias), 1, 0, version.created_ms, version.lineage.created_by, false});
  }

  // Content-addressed: the blob's name is its hash, so equal bytes are stored once. An existing
  // blob is reused only if it still holds those bytes; a damaged one is replaced.
  std::string extension = fs::path(version.artifact_name).extension().string();
  version.artifact_path = fmt::format("models/{}/{}{}", kBlobDir, version.content_hash, extension);
  fs::path blob = fs::path(data_dir_) / version.artifact_path;
  std::error_code ec;
  bool reuse = false;
  if (fs::exists(blob, ec)) {
    Result<std::string> stored = Sha256File(blob.string());
    reuse = stored.ok() && *stored == version.content_hash;
  }
  if (!reuse) {
    fs::rename(staged_path, blob, ec);
    if (ec) return FsError(ec, "move artifact to", blob);
  }
  PathRemover new_blob(reuse ? fs::path() : blob);
  // The artifact was fsynced when copied; this makes its directory entry durable too.
  if (!reuse) RETURN_IF_ERROR(SyncDir(blob.parent_path().string()));

  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = db_->cf(Cf::kRegistry);
  RETURN_IF_ERROR(FromRocks(
      batch.Put(cf, VersionKey(version.name, version.version), EncodeModelVersion(version)),
      "registry batch"));
  RETURN_IF_ERROR(FromRocks(batch.Put(cf, ModelKey(version.name), EncodeModelRecord(record)),
                            "registry batch"));
  RETURN_IF_ERROR(db_->Write(&batch, /*sync=*/true));
  new_blob.Release();
  version.artifact_path = (fs::path(data_dir_) / version.artifact_path).string();
  return version;
}

Status ModelRegistry::MoveAliasLocked(ModelRecord* record, const std::string& alias,
                                      int64_t version, const std::string& by, bool rollback,
                                      const AliasCheck& check) {
  RETURN_IF_ERROR(RequireExisting(*record, version));
  if (check) {
    ASSIGN_OR_RETURN(ModelVersion target, ReadVersion(*record, version));
    RETURN_IF_ERROR(check(alias, target));
  }
  auto it = record->aliases.find(alias);
  int64_t previous = it == record->aliases.end() ? 0 : it->second;
  record->aliases[alias] = version;
  record->alias_history.push_back(
      {alias, version, previous, clock_->NowMs(), by.empty() ? CurrentUser() : by, rollback});
  return WriteModelRecord(db_, *record);
}

Status ModelRegistry::SetAlias(const std::string& name, const std::string& alias, int64_t version,
                               const std::string& by, const AliasCheck& check) {
  RETURN_IF_ERROR(ValidateAlias(alias));
  WriteLock lock(this);
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  return MoveAliasLocked(&record, alias, version, by, /*rollback=*/false, check);
}

Status ModelRegistry::RemoveAlias(const std::string& name, const std::string& alias,
                                  const std::string& by) {
  WriteLock lock(this);
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  auto it = record.aliases.find(alias);
  if (it == record.aliases.end()) {
    return Status::NotFound(fmt::format("model \"{}\" has no alias \"{}\"", name, alias));
  }
  record.alias_history.push_back(
      {alias, 0, it->second, clock_->NowMs(), by.empty() ? CurrentUser() : by, false});
  record.aliases.erase(it);
  return WriteModelRecord(db_, record);
}

Result<PromoteResult> ModelRegistry::Promote(const std::string& name, int64_t version,
                                             const PromoteOptions& options,
                                             const AliasCheck& check) {
  std::string champion_alias(kChampionAlias);
  WriteLock lock(this);
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  ASSIGN_OR_RETURN(ModelVersion candidate, ReadVersion(record, version));
  PromoteResult result;
  result.version = version;
  auto it = record.aliases.find(champion_alias);
  if (it == record.aliases.end()) {
    result.reason = "there was no champion";
  } else if (it->second == version) {
    return Status::FailedPrecondition(
        fmt::format("model \"{}\" version {} is already the champion", name, version));
  } else {
    result.previous = it->second;
    ASSIGN_OR_RETURN(ModelVersion champion, ReadVersion(record, it->second));
    if (options.force) {
      result.reason = "forced";
    } else {
      ASSIGN_OR_RETURN(result.reason, ComparePromotion(candidate, champion, options.metric));
    }
  }
  RETURN_IF_ERROR(
      MoveAliasLocked(&record, champion_alias, version, options.by, /*rollback=*/false, check));
  return result;
}

Result<AliasChange> ModelRegistry::Rollback(const std::string& name, const std::string& by,
                                            const AliasCheck& check) {
  std::string champion_alias(kChampionAlias);
  WriteLock lock(this);
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  // Newest first: each rollback entry cancels the next move not itself a rollback.
  int64_t undone = 0;
  std::optional<int64_t> target;
  for (auto it = record.alias_history.rbegin(); it != record.alias_history.rend(); ++it) {
    if (it->alias != champion_alias) continue;
    if (it->rollback) {
      ++undone;
    } else if (undone > 0) {
      --undone;
    } else {
      target = it->previous;
      break;
    }
  }
  if (!target || *target == 0) {
    return Status::FailedPrecondition(
        fmt::format("model \"{}\": champion has no earlier version to roll back to", name));
  }
  if (record.IsDeleted(*target)) {
    return Status::FailedPrecondition(fmt::format(
        "model \"{}\": champion pointed at version {} before, which was deleted", name, *target));
  }
  RETURN_IF_ERROR(MoveAliasLocked(&record, champion_alias, *target, by, /*rollback=*/true, check));
  return record.alias_history.back();
}

Status ModelRegistry::DeleteVersion(const std::string& name, int64_t version,
                                    const std::vector<ModelUse>& uses) {
  WriteLock lock(this);
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  ASSIGN_OR_RETURN(ModelVersion stored, ReadVersion(record, version));
  for (const auto& [alias, target] : record.aliases) {
    if (target == version) {
      return Status::FailedPrecondition(
          fmt::format("model \"{}\" version {} is in use: alias \"{}\" points at it; move the "
                      "alias first",
                      name, version, alias));
    }
  }
  for (const ModelUse& use : uses) {
    Result<int64_t> target = ResolveRef(record, use.ref);
    if (target.ok() && *target == version) {
      return Status::FailedPrecondition(
          fmt::format("model \"{}\" version {} is in use: deployment \"{}\" serves it (as \"{}\")",
                      name, version, use.deployment, use.ref));
    }
  }
  if (record.Versions().size() == 1) {
    return Status::FailedPrecondition(
        fmt::format("model \"{}\" version {} is the model's only version", name, version));
  }
  record.deleted.insert(std::upper_bound(record.deleted.begin(), record.deleted.end(), version),
                        version);
  record.version_tags.erase(version);
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = db_->cf(Cf::kRegistry);
  RETURN_IF_ERROR(FromRocks(batch.Delete(cf, VersionKey(name, version)), "registry batch"));
  RETURN_IF_ERROR(
      FromRocks(batch.Put(cf, ModelKey(name), EncodeModelRecord(record)), "registry batch"));
  RETURN_IF_ERROR(db_->Write(&batch, /*sync=*/true));

  // The records are gone; a blob left behind by a failure here is only unused disk.
  std::string relative = fs::relative(stored.artifact_path, data_dir_).string();
  ASSIGN_OR_RETURN(bool shared, BlobSharedLocked(relative, name, version));
  if (!shared) {
    std::error_code ec;
    fs::remove(stored.artifact_path, ec);
    if (ec) return FsError(ec, "remove", stored.artifact_path);
  }
  return Status::Ok();
}

Result<bool> ModelRegistry::BlobSharedLocked(const std::string& relative_path,
                                             const std::string& name, int64_t version) const {
  std::string prefix = "version/";
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kRegistry);
  for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    ASSIGN_OR_RETURN(ModelVersion other, DecodeModelVersion(it->value().ToStringView()));
    if (other.artifact_path == relative_path && (other.name != name || other.version != version)) {
      return true;
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scan model versions"));
  return false;
}

Status ModelRegistry::UpdateTags(const std::string& name, int64_t version,
                                 const std::map<std::string, std::string>& set,
                                 const std::vector<std::string>& remove) {
  for (const auto& [key, value] : set) RETURN_IF_ERROR(ValidateName("tag", key));
  WriteLock lock(this);
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  if (version != 0) RETURN_IF_ERROR(RequireExisting(record, version));
  std::map<std::string, std::string>& tags =
      version == 0 ? record.tags : record.version_tags[version];
  for (const std::string& key : remove) {
    if (tags.erase(key) == 0) {
      return Status::NotFound(
          version == 0
              ? fmt::format("model \"{}\" has no tag \"{}\"", name, key)
              : fmt::format("model \"{}\" version {} has no tag \"{}\"", name, version, key));
    }
  }
  for (const auto& [key, value] : set) tags[key] = value;
  if (version != 0 && tags.empty()) record.version_tags.erase(version);
  return WriteModelRecord(db_, record);
}

Result<std::vector<ModelInfo>> ModelRegistry::List() const {
  std::vector<ModelRecord> records;
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kRegistry);
  for (it->Seek(rocksdb::Slice(kModelKeyPrefix.data(), kModelKeyPrefix.size()));
       it->Valid() && HasPrefix(it->key(), kModelKeyPrefix); it->Next()) {
    ASSIGN_OR_RETURN(ModelRecord record, DecodeModelRecord(it->value().ToStringView()));
    records.push_back(std::move(record));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "list models"));
  std::vector<ModelInfo> models;
  for (ModelRecord& record : records) {
    ASSIGN_OR_RETURN(ModelVersion latest, ReadVersion(record, record.LatestExisting()));
    models.push_back(ToInfo(std::move(record), std::move(latest)));
  }
  return models;
}

Result<ModelInfo> ModelRegistry::Get(const std::string& name) const {
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  ASSIGN_OR_RETURN(ModelVersion latest, ReadVersion(record, record.LatestExisting()));
  return ToInfo(std::move(record), std::move(latest));
}

ModelInfo ModelRegistry::ToInfo(ModelRecord record, ModelVersion latest) const {
  ModelInfo info;
  info.name = record.name;
  info.created_ms = record.created_ms;
  info.latest = std::move(latest);
  info.versions = record.Versions();
  info.aliases = std::move(record.aliases);
  info.tags = std::move(record.tags);
  info.alias_history = std::move(record.alias_history);
  return info;
}

Result<ModelVersion> ModelRegistry::GetVersion(const std::string& name, int64_t version) const {
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  return ReadVersion(record, version);
}

Result<std::vector<ModelVersion>> ModelRegistry::ListVersions(const std::string& name) const {
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  std::vector<ModelVersion> versions;
  for (int64_t v : record.Versions()) {
    ASSIGN_OR_RETURN(ModelVersion version, ReadVersion(record, v));
    versions.push_back(std::move(version));
  }
  return versions;
}

Result<ModelVersion> ModelRegistry::Resolve(const std::string& name, std::string_view ref) const {
  if (!cache_resolves_) return ResolveFromDb(name, ref);
  // Read before the Db: a write that finishes after this load has bumped the generation, so
  // what is stored below under `generation` is never served once that write returned.
  uint64_t generation = generation_.load(std::memory_order_acquire);
  if (std::optional<ModelVersion> cached = FindResolved(generation, name, ref)) {
    return std::move(*cached);
  }
  ASSIGN_OR_RETURN(ModelVersion version, ResolveFromDb(name, ref));
  StoreResolved(generation, name, ref, version);
  return version;
}

Result<ModelVersion> ModelRegistry::ResolveFromDb(const std::string& name,
                                                  std::string_view ref) const {
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  ASSIGN_OR_RETURN(int64_t version, ResolveRef(record, ref));
  return ReadVersion(record, version);
}

std::optional<ModelVersion> ModelRegistry::FindResolved(uint64_t generation,
                                                        const std::string& name,
                                                        std::string_view ref) const {
  std::shared_lock<std::shared_mutex> lock(resolved_mu_);
  if (resolved_generation_ != generation) return std::nullopt;
  auto model = resolved_.find(name);
  if (model == resolved_.end()) return std::nullopt;
  auto entry = model->second.find(ref);
  if (entry == model->second.end()) return std::nullopt;
  return entry->second;
}

void ModelRegistry::StoreResolved(uint64_t generation, const std::string& name,
                                  std::string_view ref, const ModelVersion& version) const {
  std::unique_lock<std::shared_mutex> lock(resolved_mu_);
  if (generation < resolved_generation_) return;
  if (generation > resolved_generation_ || resolved_count_ >= kMaxResolved) {
    resolved_.clear();
    resolved_count_ = 0;
    resolved_generation_ = generation;
  }
  auto [it, inserted] = resolved_[name].try_emplace(std::string(ref), version);
  if (inserted) ++resolved_count_;
}

Result<std::optional<ModelRecord>> ModelRegistry::ReadModelRecord(const std::string& name) const {
  ASSIGN_OR_RETURN(std::optional<std::string> json, db_->Get(Cf::kRegistry, ModelKey(name)));
  if (!json) return std::optional<ModelRecord>();
  ASSIGN_OR_RETURN(ModelRecord record, DecodeModelRecord(*json));
  return std::optional<ModelRecord>(std::move(record));
}

Result<ModelRecord> ModelRegistry::RequireModelRecord(const std::string& name) const {
  ASSIGN_OR_RETURN(std::optional<ModelRecord> record, ReadModelRecord(name));
  if (!record) return NoModel(name);
  return std::move(*record);
}

Result<ModelVersion> ModelRegistry::ReadVersion(const ModelRecord& record, int64_t version) const {
  RETURN_IF_ERROR(RequireExisting(record, version));
  ASSIGN_OR_RETURN(std::optional<std::string> json,
                   db_->Get(Cf::kRegistry, VersionKey(record.name, version)));
  if (!json) return NoVersion(record.name, version);
  ASSIGN_OR_RETURN(ModelVersion decoded, DecodeModelVersion(*json));
  decoded.artifact_path = (fs::path(data_dir_) / decoded.artifact_path).string();
  auto tags = record.version_tags.find(version);
  if (tags != record.version_tags.end()) decoded.tags = tags->second;
  return decoded;
}

}  // namespace freshet

#include "models/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
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

Status CheckFeatureNames(const std::vector<std::string>& feature_names, int64_t num_features) {
  if (feature_names.empty() || num_features < 0 ||
      static_cast<int64_t>(feature_names.size()) == num_features) {
    return Status::Ok();
  }
  return Status::InvalidArgument(
      fmt::format("{} feature names given but the model takes {} "
                  "features",
                  feature_names.size(), num_features));
}

Status FsError(const std::error_code& ec, std::string_view what, const fs::path& path) {
  return Status::IoError(fmt::format("cannot {} {}: {}", what, path.string(), ec.message()));
}

// Removes a directory tree when it goes out of scope, unless released: cleans up after every
// early return of a registration.
class DirRemover {
 public:
  explicit DirRemover(fs::path path) : path_(std::move(path)) {}
  ~DirRemover() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  DirRemover(const DirRemover&) = delete;
  DirRemover& operator=(const DirRemover&) = delete;
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
  if (ref == ModelRegistry::kLatestRef) return record.latest_version;
  if (std::optional<int64_t> version = ParseVersionRef(ref)) {
    if (*version < 1 || *version > record.latest_version) return NoVersion(record.name, *version);
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

}  // namespace

ModelRegistry::ModelRegistry(Db* db, std::string data_dir, const Clock* clock)
    : db_(db), data_dir_(std::move(data_dir)), clock_(clock) {}

Result<std::unique_ptr<ModelRegistry>> ModelRegistry::Open(Db* db, const std::string& data_dir,
                                                           const Clock* clock) {
  fs::path staging = fs::path(data_dir) / "models" / kStagingDirName;
  std::error_code ec;
  fs::remove_all(staging, ec);  // Leftovers of registrations a crash interrupted.
  if (ec) return FsError(ec, "clean", staging);
  fs::create_directories(staging, ec);
  if (ec) return FsError(ec, "create", staging);
  return std::unique_ptr<ModelRegistry>(new ModelRegistry(db, data_dir, clock));
}

Result<ModelVersion> ModelRegistry::Register(const std::string& name,
                                             const std::string& artifact_path,
                                             const std::string& runtime,
                                             const RegisterOptions& options) {
  RETURN_IF_ERROR(ValidateName("model", name));
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRuntime> model, CreateRuntime(runtime));
  std::error_code ec;
  if (!fs::is_regular_file(artifact_path, ec)) {
    return Status::InvalidArgument(fmt::format("model artifact {} is not a file", artifact_path));
  }
  ASSIGN_OR_RETURN(StagedArtifact staged, StageArtifact(artifact_path));
  DirRemover staging_dir(fs::path(staged.path).parent_path());
  Status loaded = model->Load(staged.path);
  if (!loaded.ok()) {
    return loaded.WithContext(fmt::format("artifact rejected for model \"{}\"", name));
  }
  RETURN_IF_ERROR(CheckFeatureNames(options.feature_names, model->num_features()));

  ModelVersion version;
  version.name = name;
  version.runtime = runtime;
  version.content_hash = std::move(staged.content_hash);
  version.num_features = model->num_features();
  version.description = options.description;
  version.metrics = options.metrics;
  version.params = options.params;
  version.feature_names = options.feature_names;
  version.lineage = options.lineage;
  return Commit(std::move(version), staged.path);
}

Result<ModelRegistry::StagedArtifact> ModelRegistry::StageArtifact(
    const std::string& artifact_path) {
  fs::path dir = fs::path(data_dir_) / "models" / kStagingDirName /
                 std::to_string(next_staging_id_.fetch_add(1));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return FsError(ec, "create", dir);
  StagedArtifact staged;
  staged.path = (dir / fs::path(artifact_path).filename()).string();
  Result<std::string> hash = CopyAndHashFile(artifact_path, staged.path);
  if (!hash.ok()) {
    fs::remove_all(dir, ec);
    return hash.status();
  }
  staged.content_hash = std::move(hash).value();
  return staged;
}

Result<ModelVersion> ModelRegistry::Commit(ModelVersion version, const std::string& staged_path) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<ModelRecord> existing, ReadModelRecord(version.name));
  ModelRecord record;
  version.created_ms = clock_->NowMs();
  if (existing) {
    record = std::move(*existing);
  } else {
    record.name = version.name;
    record.created_ms = version.created_ms;
    record.aliases.emplace(kChampionAlias, 1);
  }
  version.version = record.latest_version + 1;
  record.latest_version = version.version;

  fs::path model_dir = fs::path(data_dir_) / "models" / version.name;
  fs::path version_dir = model_dir / std::to_string(version.version);
  std::error_code ec;
  // A directory here is from a registration a crash cut short before its records were written.
  fs::remove_all(version_dir, ec);
  fs::create_directories(model_dir, ec);
  if (ec) return FsError(ec, "create", model_dir);
  fs::rename(fs::path(staged_path).parent_path(), version_dir, ec);
  if (ec) return FsError(ec, "move artifact into", version_dir);
  DirRemover undo(version_dir);
  // The artifact was fsynced when copied; these make its directory entries durable too.
  for (const fs::path& dir : {version_dir, model_dir, model_dir.parent_path()}) {
    RETURN_IF_ERROR(SyncDir(dir.string()));
  }

  std::string file_name = fs::path(staged_path).filename().string();
  version.artifact_path = fmt::format("models/{}/{}/{}", version.name, version.version, file_name);
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = db_->cf(Cf::kRegistry);
  RETURN_IF_ERROR(FromRocks(
      batch.Put(cf, VersionKey(version.name, version.version), EncodeModelVersion(version)),
      "registry batch"));
  RETURN_IF_ERROR(FromRocks(batch.Put(cf, ModelKey(version.name), EncodeModelRecord(record)),
                            "registry batch"));
  RETURN_IF_ERROR(db_->Write(&batch, /*sync=*/true));
  undo.Release();
  return WithAbsolutePath(std::move(version));
}

Status ModelRegistry::SetAlias(const std::string& name, const std::string& alias, int64_t version) {
  RETURN_IF_ERROR(ValidateAlias(alias));
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  if (version < 1 || version > record.latest_version) return NoVersion(name, version);
  record.aliases[alias] = version;
  return db_->Put(Cf::kRegistry, ModelKey(name), EncodeModelRecord(record), /*sync=*/true);
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
    ASSIGN_OR_RETURN(ModelVersion latest, ReadVersion(record.name, record.latest_version));
    models.push_back(
        {record.name, record.created_ms, std::move(latest), std::move(record.aliases)});
  }
  return models;
}

Result<ModelInfo> ModelRegistry::Get(const std::string& name) const {
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  ASSIGN_OR_RETURN(ModelVersion latest, ReadVersion(name, record.latest_version));
  return ModelInfo{name, record.created_ms, std::move(latest), std::move(record.aliases)};
}

Result<ModelVersion> ModelRegistry::GetVersion(const std::string& name, int64_t version) const {
  RETURN_IF_ERROR(RequireModelRecord(name).status());
  return ReadVersion(name, version);
}

Result<std::vector<ModelVersion>> ModelRegistry::ListVersions(const std::string& name) const {
  RETURN_IF_ERROR(RequireModelRecord(name).status());
  std::string prefix = VersionKeyPrefix(name);
  std::vector<ModelVersion> versions;
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kRegistry);
  for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    ASSIGN_OR_RETURN(ModelVersion version, DecodeModelVersion(it->value().ToStringView()));
    versions.push_back(WithAbsolutePath(std::move(version)));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "list model versions"));
  return versions;
}

Result<ModelVersion> ModelRegistry::Resolve(const std::string& name, std::string_view ref) const {
  ASSIGN_OR_RETURN(ModelRecord record, RequireModelRecord(name));
  ASSIGN_OR_RETURN(int64_t version, ResolveRef(record, ref));
  return ReadVersion(name, version);
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

Result<ModelVersion> ModelRegistry::ReadVersion(const std::string& name, int64_t version) const {
  ASSIGN_OR_RETURN(std::optional<std::string> json,
                   db_->Get(Cf::kRegistry, VersionKey(name, version)));
  if (!json) return NoVersion(name, version);
  ASSIGN_OR_RETURN(ModelVersion decoded, DecodeModelVersion(*json));
  return WithAbsolutePath(std::move(decoded));
}

ModelVersion ModelRegistry::WithAbsolutePath(ModelVersion version) const {
  version.artifact_path = (fs::path(data_dir_) / version.artifact_path).string();
  return version;
}

}  // namespace freshet

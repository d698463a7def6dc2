#include "serving/release.h"

#include <fmt/format.h>

#include "core/byte_codec.h"

namespace freshet {
namespace {

// Key prefix and record version: part of the on-disk format (docs/formats.md).
constexpr std::string_view kReleasePrefix = "release/";
constexpr uint8_t kReleaseRecordV1 = 1;

void EncodeRelease(const Release* r, std::string* out) {
  out->push_back(r ? 1 : 0);
  if (r == nullptr) return;
  byte_codec::PutVarint(out, r->id);
  byte_codec::PutSigned(out, r->model_version);
  byte_codec::PutSigned(out, r->created_ms);
  byte_codec::PutVarint(out, r->generations.size());
  for (const auto& [view, generation] : r->generations) {
    byte_codec::PutBytes(out, view);
    byte_codec::PutVarint(out, generation);
  }
}

bool DecodeRelease(byte_codec::ByteReader* in, std::shared_ptr<const Release>* out) {
  uint8_t present = 0;
  if (!in->GetByte(&present) || present > 1) return false;
  if (present == 0) return true;
  auto r = std::make_shared<Release>();
  uint64_t count = 0;
  if (!in->GetVarint(&r->id) || !in->GetSigned(&r->model_version) ||
      !in->GetSigned(&r->created_ms) || !in->GetCount(&count)) {
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view view;
    uint64_t generation = 0;
    if (!in->GetBytes(&view) || !in->GetVarint(&generation) || generation > UINT32_MAX) {
      return false;
    }
    r->generations[std::string(view)] = static_cast<uint32_t>(generation);
  }
  *out = std::move(r);
  return true;
}

}  // namespace

Result<std::unique_ptr<ReleaseStore>> ReleaseStore::Open(Db* db, const Clock* clock,
                                                         const GenerationRouter* router) {
  std::unique_ptr<ReleaseStore> store(new ReleaseStore(db, clock, router));
  auto it = db->NewIterator(Cf::kRegistry);
  for (it->Seek(rocksdb::Slice(kReleasePrefix.data(), kReleasePrefix.size()));
       it->Valid() &&
       it->key().starts_with(rocksdb::Slice(kReleasePrefix.data(), kReleasePrefix.size()));
       it->Next()) {
    std::string deployment = it->key().ToString().substr(kReleasePrefix.size());
    byte_codec::ByteReader in(it->value().ToStringView());
    uint8_t version = 0;
    Pair pair;
    if (!in.GetByte(&version) || version != kReleaseRecordV1 ||
        !DecodeRelease(&in, &pair.current) || !DecodeRelease(&in, &pair.previous)) {
      return Status::IoError(fmt::format("corrupt release record of deployment '{}'", deployment));
    }
    store->releases_[deployment] = std::move(pair);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading releases"));
  return store;
}

std::shared_ptr<const Release> ReleaseStore::Current(const std::string& deployment) const {
  std::lock_guard lock(mu_);
  auto it = releases_.find(deployment);
  return it == releases_.end() ? nullptr : it->second.current;
}

std::shared_ptr<const Release> ReleaseStore::Previous(const std::string& deployment) const {
  std::lock_guard lock(mu_);
  auto it = releases_.find(deployment);
  return it == releases_.end() ? nullptr : it->second.previous;
}

Status ReleaseStore::Store(const std::string& deployment, const Pair& pair) {
  std::string value(1, static_cast<char>(kReleaseRecordV1));
  EncodeRelease(pair.current.get(), &value);
  EncodeRelease(pair.previous.get(), &value);
  return db_->Put(Cf::kRegistry, std::string(kReleasePrefix) + deployment, value, /*sync=*/true);
}

Result<Release> ReleaseStore::Switch(const std::string& deployment, Release release) {
  std::lock_guard lock(mu_);
  Pair& pair = releases_[deployment];
  release.id = pair.current ? pair.current->id + 1 : 1;
  if (pair.previous) release.id = std::max(release.id, pair.previous->id + 1);
  release.created_ms = clock_->NowMs();
  Pair next{std::make_shared<const Release>(release), pair.current};
  RETURN_IF_ERROR(Store(deployment, next));
  pair = std::move(next);
  return release;
}

Result<Release> ReleaseStore::Rollback(const std::string& deployment) {
  std::lock_guard lock(mu_);
  auto it = releases_.find(deployment);
  if (it == releases_.end() || !it->second.previous) {
    return Status::FailedPrecondition(
        fmt::format("deployment '{}' has no previous release to roll back to", deployment));
  }
  Pair next{it->second.previous, it->second.current};
  RETURN_IF_ERROR(Store(deployment, next));
  it->second = std::move(next);
  return *it->second.current;
}

std::vector<std::string> ReleaseStore::Using(const std::string& view, uint32_t generation) const {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [deployment, pair] : releases_) {
    for (const auto& r : {pair.current, pair.previous}) {
      if (!r) continue;
      auto g = r->generations.find(view);
      if (g != r->generations.end() && g->second == generation) {
        out.push_back(deployment);
        break;
      }
    }
  }
  return out;
}

Result<ReleaseSnapshot> ReleaseStore::Snapshot(const DeploymentSpec& d,
                                               const std::vector<FeatureRef>& refs,
                                               const FeatureStore& features) const {
  ReleaseSnapshot out;
  if (std::shared_ptr<const Release> current = Current(d.name)) {
    out.release = current->id;
    out.model_ref = std::to_string(current->model_version);
    out.generations = current->generations;
    return out;
  }
  out.model_ref = d.alias;
  if (router_ == nullptr) return out;
  for (const FeatureRef& ref : refs) {
    if (features.IsTableView(ref.view) || out.generations.count(ref.view)) continue;
    ASSIGN_OR_RETURN(RoutedEngine routed, router_->Route(ref.view, 0));
    out.generations[ref.view] = routed.generation;
  }
  return out;
}

Result<ReleaseSnapshot> TakeRelease(const ReleaseStore* releases, const DeploymentSpec& d,
                                    const std::vector<FeatureRef>& refs,
                                    const FeatureStore& features) {
  if (releases != nullptr) return releases->Snapshot(d, refs, features);
  ReleaseSnapshot out;
  out.model_ref = d.alias;
  return out;
}

}  // namespace freshet

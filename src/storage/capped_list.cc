#include "storage/capped_list.h"

#include <fmt/format.h>

#include "core/byte_codec.h"

namespace freshet::capped_list {
namespace {

constexpr char kTag = '\0';

class CappedListMerge : public rocksdb::MergeOperator {
 public:
  explicit CappedListMerge(size_t capacity)
      : capacity_(capacity), name_(fmt::format("freshet.CappedList.{}", capacity)) {}

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::vector<std::string_view> existing;
    if (in.existing_value != nullptr) {
      std::string_view base(in.existing_value->data(), in.existing_value->size());
      std::optional<std::vector<std::string_view>> entries = Decode(base);
      if (!entries) return false;
      existing = std::move(*entries);
    }
    std::string& value = out->new_value;
    value.assign(1, kTag);
    size_t kept = 0;
    for (auto it = in.operand_list.rbegin(); it != in.operand_list.rend() && kept < capacity_;
         ++it, ++kept) {
      byte_codec::PutBytes(&value, std::string_view(it->data(), it->size()));
    }
    for (size_t i = 0; i < existing.size() && kept < capacity_; ++i, ++kept) {
      byte_codec::PutBytes(&value, existing[i]);
    }
    return true;
  }

  const char* Name() const override { return name_.c_str(); }

 private:
  const size_t capacity_;
  const std::string name_;
};

}  // namespace

bool IsCappedList(std::string_view value) { return !value.empty() && value[0] == kTag; }

std::string Encode(const std::vector<std::string>& entries) {
  std::string value(1, kTag);
  for (const std::string& e : entries) byte_codec::PutBytes(&value, e);
  return value;
}

std::optional<std::vector<std::string_view>> Decode(std::string_view value) {
  if (!IsCappedList(value)) return std::nullopt;
  byte_codec::ByteReader in(value.substr(1));
  std::vector<std::string_view> entries;
  while (!in.empty()) {
    std::string_view entry;
    if (!in.GetBytes(&entry)) return std::nullopt;
    entries.push_back(entry);
  }
  return entries;
}

std::shared_ptr<rocksdb::MergeOperator> NewMergeOperator(size_t capacity) {
  return std::make_shared<CappedListMerge>(capacity);
}

}  // namespace freshet::capped_list

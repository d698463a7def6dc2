#include "stream/checkpoint_records.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/byte_codec.h"
#include "storage/db.h"

namespace freshet {
namespace {

using byte_codec::ByteReader;
using byte_codec::PutSigned;
using byte_codec::PutVarint;

// Record versions: part of the on-disk format (docs/exactly_once.md).
constexpr uint8_t kProgressV1 = 1;  // partition 0 only
constexpr uint8_t kProgressV2 = 2;  // any partitions
constexpr uint8_t kLateV1 = 1;

}  // namespace

std::string EncodeProgress(const SourceProgress& p) {
  // A source with partition 0 alone keeps v1, the layout older versions read.
  const bool single = p.next_offsets.size() == 1 && p.next_offsets.begin()->first == 0;
  std::string out(1, static_cast<char>(single ? kProgressV1 : kProgressV2));
  if (single) {
    PutVarint(&out, p.NextOffset(0));
    PutSigned(&out, p.max_event_ms);
    PutVarint(&out, p.late_events);
    return out;
  }
  PutSigned(&out, p.max_event_ms);
  PutVarint(&out, p.late_events);
  PutVarint(&out, p.next_offsets.size());
  for (const auto& [partition, offset] : p.next_offsets) {
    PutVarint(&out, static_cast<uint32_t>(partition));
    PutVarint(&out, offset);
  }
  return out;
}

Status DecodeProgress(std::string_view source, std::string_view bytes, SourceProgress* p) {
  ByteReader in(bytes);
  uint8_t version = 0;
  bool ok = in.GetByte(&version);
  p->next_offsets.clear();
  if (ok && version == kProgressV1) {
    uint64_t next = 0;
    ok = in.GetVarint(&next) && in.GetSigned(&p->max_event_ms) && in.GetVarint(&p->late_events);
    if (ok) p->next_offsets[0] = next;
  } else if (ok && version == kProgressV2) {
    uint64_t n = 0;
    ok = in.GetSigned(&p->max_event_ms) && in.GetVarint(&p->late_events) && in.GetVarint(&n);
    for (uint64_t i = 0; ok && i < n; ++i) {
      uint64_t partition = 0, offset = 0;
      ok = in.GetVarint(&partition) && partition <= INT32_MAX && in.GetVarint(&offset);
      if (ok) p->next_offsets[static_cast<int32_t>(partition)] = offset;
    }
  } else {
    ok = false;
  }
  if (ok && in.empty()) return Status::Ok();
  return Status::IoError(fmt::format("corrupt checkpoint of source '{}'", source));
}

std::string LateKey(const LateEvent& e) {
  std::string key(e.source);
  key.push_back('\0');
  AppendBigEndian64(&key, e.offset);
  if (e.partition != 0) AppendBigEndian32(&key, static_cast<uint32_t>(e.partition));
  return key;
}

std::string EncodeLate(const LateEvent& e) {
  std::string out(1, static_cast<char>(kLateV1));
  PutSigned(&out, e.watermark_ms);
  EncodeRecord(e.record, &out);
  return out;
}

Status DecodeLate(std::string_view source, std::string_view key, std::string_view value,
                  LateEvent* e) {
  ByteReader in(value);
  uint8_t version;
  const size_t suffix = key.size() - std::min(key.size(), source.size() + 1);
  if ((suffix != 8 && suffix != 12) || key[source.size()] != '\0' || !in.GetByte(&version) ||
      version != kLateV1 || !in.GetSigned(&e->watermark_ms)) {
    return Status::IoError(fmt::format("corrupt late event of source '{}'", source));
  }
  e->source = std::string(source);
  e->offset = ReadBigEndian64(key.data() + source.size() + 1);
  e->partition =
      suffix == 12 ? static_cast<int32_t>(ReadBigEndian32(key.data() + source.size() + 9)) : 0;
  return DecodeRecord(in.rest(), &e->record);
}

}  // namespace freshet

#include "stream/checkpoint_records.h"

#include <fmt/format.h>

#include "core/byte_codec.h"
#include "storage/db.h"

namespace freshet {
namespace {

using byte_codec::ByteReader;
using byte_codec::PutSigned;
using byte_codec::PutVarint;

// Record versions: part of the on-disk format (docs/exactly_once.md).
constexpr uint8_t kProgressV1 = 1;
constexpr uint8_t kLateV1 = 1;

}  // namespace

std::string EncodeProgress(const SourceProgress& p) {
  std::string out(1, static_cast<char>(kProgressV1));
  PutVarint(&out, p.next_offset);
  PutSigned(&out, p.max_event_ms);
  PutVarint(&out, p.late_events);
  return out;
}

Status DecodeProgress(std::string_view source, std::string_view bytes, SourceProgress* p) {
  ByteReader in(bytes);
  uint8_t version;
  if (in.GetByte(&version) && version == kProgressV1 && in.GetVarint(&p->next_offset) &&
      in.GetSigned(&p->max_event_ms) && in.GetVarint(&p->late_events) && in.empty()) {
    return Status::Ok();
  }
  return Status::IoError(fmt::format("corrupt checkpoint of source '{}'", source));
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
  if (key.size() != source.size() + 9 || key[source.size()] != '\0' || !in.GetByte(&version) ||
      version != kLateV1 || !in.GetSigned(&e->watermark_ms)) {
    return Status::IoError(fmt::format("corrupt late event of source '{}'", source));
  }
  e->source = std::string(source);
  e->offset = ReadBigEndian64(key.data() + source.size() + 1);
  return DecodeRecord(in.rest(), &e->record);
}

}  // namespace freshet

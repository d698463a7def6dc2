#include "format/record.h"

#include "core/byte_codec.h"

namespace freshet {
namespace {

using byte_codec::ByteReader;
using byte_codec::PutBytes;
using byte_codec::PutDouble;
using byte_codec::PutSigned;
using byte_codec::PutVarint;

// Value tags of the record format (docs/formats.md), the same as byte_codec's. Never renumber.
enum Tag : uint8_t { kNull = 0, kFalse = 1, kTrue = 2, kInt = 3, kDouble = 4, kString = 5 };
constexpr uint8_t kRecordFormatV1 = 1;

}  // namespace

void EncodeRecord(const Record& r, std::string* out) {
  out->push_back(static_cast<char>(kRecordFormatV1));
  PutSigned(out, r.ts_ms);
  PutVarint(out, r.values.size());
  for (const Value& v : r.values) {
    if (v.is_null() || v.is_list()) {
      out->push_back(static_cast<char>(kNull));
    } else if (v.is_bool()) {
      out->push_back(static_cast<char>(v.as_bool() ? kTrue : kFalse));
    } else if (v.is_int()) {
      out->push_back(static_cast<char>(kInt));
      PutSigned(out, v.as_int());
    } else if (v.is_double()) {
      out->push_back(static_cast<char>(kDouble));
      PutDouble(out, v.as_double());
    } else {
      out->push_back(static_cast<char>(kString));
      PutBytes(out, v.as_string());
    }
  }
}

Status DecodeRecord(std::string_view bytes, Record* out) {
  auto corrupt = [] { return Status::IoError("corrupt record in event log"); };
  ByteReader in(bytes);
  uint8_t version;
  uint64_t n;
  if (!in.GetByte(&version) || version != kRecordFormatV1 || !in.GetSigned(&out->ts_ms) ||
      !in.GetCount(&n)) {
    return corrupt();
  }
  // Values are overwritten in place: decoding into the same record again reuses its strings.
  out->values.resize(n);
  for (Value& value : out->values) {
    uint8_t tag;
    if (!in.GetByte(&tag)) return corrupt();
    switch (tag) {
      case kNull:
        value = Value();
        break;
      case kFalse:
      case kTrue:
        value.SetBool(tag == kTrue);
        break;
      case kInt: {
        int64_t v;
        if (!in.GetSigned(&v)) return corrupt();
        value.SetInt(v);
        break;
      }
      case kDouble: {
        double d;
        if (!in.GetDouble(&d)) return corrupt();
        value.SetDouble(d);
        break;
      }
      case kString: {
        std::string_view s;
        if (!in.GetBytes(&s)) return corrupt();
        value.SetString(s);
        break;
      }
      default:
        return corrupt();
    }
  }
  return in.empty() ? Status::Ok() : corrupt();
}

}  // namespace freshet

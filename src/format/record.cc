#include "format/record.h"

#include <cstring>

namespace freshet {
namespace {

// Value tags of the record format (docs/formats.md). Never renumber.
enum Tag : uint8_t { kNull = 0, kFalse = 1, kTrue = 2, kInt = 3, kDouble = 4, kString = 5 };
constexpr uint8_t kRecordFormatV1 = 1;

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *v = result;
      return true;
    }
  }
  return false;
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

}  // namespace

void EncodeRecord(const Record& r, std::string* out) {
  out->push_back(static_cast<char>(kRecordFormatV1));
  PutVarint(out, ZigZag(r.ts_ms));
  PutVarint(out, r.values.size());
  for (const Value& v : r.values) {
    if (v.is_null() || v.is_list()) {
      out->push_back(static_cast<char>(kNull));
    } else if (v.is_bool()) {
      out->push_back(static_cast<char>(v.as_bool() ? kTrue : kFalse));
    } else if (v.is_int()) {
      out->push_back(static_cast<char>(kInt));
      PutVarint(out, ZigZag(v.as_int()));
    } else if (v.is_double()) {
      out->push_back(static_cast<char>(kDouble));
      double d = v.as_double();
      char buf[8];
      std::memcpy(buf, &d, 8);
      out->append(buf, 8);
    } else {
      out->push_back(static_cast<char>(kString));
      PutVarint(out, v.as_string().size());
      out->append(v.as_string());
    }
  }
}

Status DecodeRecord(std::string_view in, Record* out) {
  auto corrupt = [] { return Status::IoError("corrupt record in event log"); };
  if (in.empty() || static_cast<uint8_t>(in.front()) != kRecordFormatV1) return corrupt();
  in.remove_prefix(1);
  uint64_t ts, n;
  if (!GetVarint(&in, &ts) || !GetVarint(&in, &n) || n > in.size()) return corrupt();
  out->ts_ms = UnZigZag(ts);
  // Values are overwritten in place: decoding into the same record again reuses its strings.
  out->values.resize(n);
  for (Value& value : out->values) {
    if (in.empty()) return corrupt();
    uint8_t tag = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    switch (tag) {
      case kNull:
        value = Value();
        break;
      case kFalse:
      case kTrue:
        value.SetBool(tag == kTrue);
        break;
      case kInt: {
        uint64_t v;
        if (!GetVarint(&in, &v)) return corrupt();
        value.SetInt(UnZigZag(v));
        break;
      }
      case kDouble: {
        if (in.size() < 8) return corrupt();
        double d;
        std::memcpy(&d, in.data(), 8);
        in.remove_prefix(8);
        value.SetDouble(d);
        break;
      }
      case kString: {
        uint64_t len;
        if (!GetVarint(&in, &len) || len > in.size()) return corrupt();
        value.SetString(in.substr(0, len));
        in.remove_prefix(len);
        break;
      }
      default:
        return corrupt();
    }
  }
  return in.empty() ? Status::Ok() : corrupt();
}

}  // namespace freshet

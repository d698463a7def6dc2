// The byte codec of freshet's binary formats (the stream state format of docs/exactly_once.md,
// checkpoint progress records): varints, zig-zag signed varints, fixed-width little-endian
// words, length-prefixed bytes and tagged Values. The Put* writers append to a std::string;
// ByteReader consumes a string_view and checks every length and count against the bytes left,
// so corrupt input is reported, never read past. Decoders built on it return false (and their
// callers a Status) for any malformed blob. Thread-safety: value types.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/value.h"

namespace freshet::byte_codec {

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

inline void PutSigned(std::string* out, int64_t v) { PutVarint(out, ZigZag(v)); }

// Fixed-width words are stored in the host's byte order: every format using them is read back
// on the machine that wrote it (little-endian x86-64 and arm64).
inline void PutFixed32(std::string* out, uint32_t v) {
  char buf[4];
  std::memcpy(buf, &v, 4);
  out->append(buf, 4);
}

inline void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, 8);
  out->append(buf, 8);
}

inline void PutDouble(std::string* out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  PutFixed64(out, bits);
}

inline void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// [fixed32 n][n bytes]: for formats read back by position (a file read with fread) or whose
// writer fills in the length after appending the bytes. REQUIRES: s.size() < 4 GiB.
inline void PutBytes32(std::string* out, std::string_view s) {
  PutFixed32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Tags of encoded Values. Part of the state format: never renumber.
enum ValueTag : uint8_t {
  kTagNull = 0,
  kTagFalse = 1,
  kTagTrue = 2,
  kTagInt = 3,
  kTagDouble = 4,
  kTagString = 5,
};

// Lists are not stored in state (no aggregation input is a list); they encode as null.
inline void PutValue(std::string* out, const Value& v) {
  if (v.is_bool()) {
    out->push_back(static_cast<char>(v.as_bool() ? kTagTrue : kTagFalse));
  } else if (v.is_int()) {
    out->push_back(static_cast<char>(kTagInt));
    PutSigned(out, v.as_int());
  } else if (v.is_double()) {
    out->push_back(static_cast<char>(kTagDouble));
    PutDouble(out, v.as_double());
  } else if (v.is_string()) {
    out->push_back(static_cast<char>(kTagString));
    PutBytes(out, v.as_string());
  } else {
    out->push_back(static_cast<char>(kTagNull));
  }
}

// Reads what the Put* functions wrote. Every getter returns false on truncated or malformed
// input and leaves the reader in an unspecified position; callers then reject the whole blob.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  bool empty() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

  bool GetByte(uint8_t* b) {
    if (in_.empty()) return false;
    *b = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }

  bool GetVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63 && !in_.empty(); shift += 7) {
      uint8_t byte = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      if (shift == 63 && byte > 1) return false;  // more than 64 bits
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        *v = result;
        return true;
      }
    }
    return false;
  }

  // A count of items that each take at least one byte: bounded by what is left, so corrupt
  // input cannot make a caller reserve gigabytes.
  bool GetCount(uint64_t* n) { return GetVarint(n) && *n <= in_.size(); }

  bool GetSigned(int64_t* v) {
    uint64_t u;
    if (!GetVarint(&u)) return false;
    *v = UnZigZag(u);
    return true;
  }

  bool GetFixed32(uint32_t* v) {
    if (in_.size() < 4) return false;
    std::memcpy(v, in_.data(), 4);
    in_.remove_prefix(4);
    return true;
  }

  bool GetFixed64(uint64_t* v) {
    if (in_.size() < 8) return false;
    std::memcpy(v, in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }

  bool GetDouble(double* d) {
    uint64_t bits;
    if (!GetFixed64(&bits)) return false;
    std::memcpy(d, &bits, 8);
    return true;
  }

  bool GetBytes(std::string_view* s) {
    uint64_t len;
    if (!GetVarint(&len) || len > in_.size()) return false;
    *s = in_.substr(0, len);
    in_.remove_prefix(len);
    return true;
  }

  bool GetBytes32(std::string_view* s) {
    uint32_t len;
    if (!GetFixed32(&len) || len > in_.size()) return false;
    *s = in_.substr(0, len);
    in_.remove_prefix(len);
    return true;
  }

  bool GetValue(Value* v) {
    uint8_t tag;
    if (!GetByte(&tag)) return false;
    switch (tag) {
      case kTagNull:
        *v = Value();
        return true;
      case kTagFalse:
        *v = Value::Bool(false);
        return true;
      case kTagTrue:
        *v = Value::Bool(true);
        return true;
      case kTagInt: {
        int64_t i;
        if (!GetSigned(&i)) return false;
        *v = Value::Int(i);
        return true;
      }
      case kTagDouble: {
        double d;
        if (!GetDouble(&d)) return false;
        *v = Value::Double(d);
        return true;
      }
      case kTagString: {
        std::string_view s;
        if (!GetBytes(&s)) return false;
        *v = Value::String(std::string(s));
        return true;
      }
      default:
        return false;
    }
  }

 private:
  std::string_view in_;
};

}  // namespace freshet::byte_codec

#include "stream/value_ops.h"

#include <cmath>
#include <cstring>

namespace freshet {
namespace {

uint64_t Finalize(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Type tags mixed into value hashes so that e.g. the string "1" and the number 1 differ.
enum : uint64_t { kHashNull = 1, kHashBool = 2, kHashNumber = 3, kHashString = 4, kHashList = 5 };

uint64_t HashNumber(const Value& v) {
  int64_t i;
  if (v.is_int()) {
    i = v.as_int();
  } else {
    double d = v.as_double();
    // Integral doubles in int64 range hash as the int they equal.
    if (d >= -9.2e18 && d <= 9.2e18 && std::trunc(d) == d) {
      i = static_cast<int64_t>(d);
    } else {
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      return Finalize(bits ^ (kHashNumber << 56) ^ 0x5555);
    }
  }
  return Finalize(static_cast<uint64_t>(i) + kHashNumber * 0x9e3779b97f4a7c15ULL);
}

int TypeRank(const Value& v) {
  if (v.is_null()) return 0;
  if (v.is_bool()) return 1;
  if (v.is_number()) return 2;
  if (v.is_string()) return 3;
  return 4;
}

template <typename T>
int Cmp(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

uint64_t HashBytes(std::string_view bytes, uint64_t seed) {
  constexpr uint64_t m = 0xc6a4a7935bd1e995ULL;
  constexpr int r = 47;
  const size_t len = bytes.size();
  const char* p = bytes.data();
  uint64_t h = seed ^ (len * m);
  for (const char* end = p + (len & ~size_t{7}); p != end; p += 8) {
    uint64_t k;
    std::memcpy(&k, p, 8);
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  size_t tail = len & 7;
  if (tail != 0) {
    uint64_t k = 0;
    for (size_t i = 0; i < tail; ++i)
      k |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
    h ^= k;
    h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return Finalize(h);
}

uint64_t HashValue(const Value& v) {
  if (v.is_null()) return Finalize(kHashNull);
  if (v.is_bool()) return Finalize((kHashBool << 8) | (v.as_bool() ? 1 : 0));
  if (v.is_number()) return HashNumber(v);
  if (v.is_string()) return HashBytes(v.as_string(), kHashString);
  uint64_t h = Finalize(kHashList);
  for (const Value& item : v.as_list()) h = Finalize(h ^ HashValue(item));
  return h;
}

int CompareValues(const Value& a, const Value& b) {
  int ra = TypeRank(a), rb = TypeRank(b);
  if (ra != rb) return Cmp(ra, rb);
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return Cmp(a.as_bool(), b.as_bool());
    case 2:
      if (a.is_int() && b.is_int()) return Cmp(a.as_int(), b.as_int());
      return Cmp(a.to_double(), b.to_double());
    case 3: {
      int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    default:
      break;
  }
  const Value::List& la = a.as_list();
  const Value::List& lb = b.as_list();
  for (size_t i = 0; i < la.size() && i < lb.size(); ++i) {
    if (int c = CompareValues(la[i], lb[i]); c != 0) return c;
  }
  return Cmp(la.size(), lb.size());
}

}  // namespace freshet

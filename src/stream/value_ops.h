// Hashing and ordering of Values for the aggregations: distinct counts and top_k key values by a
// 64-bit hash, HyperLogLog needs well-mixed hash bits, and min/max/top_k need a total order.
// The hash is part of the state format (exact distinct sets store it): never change it.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/value.h"

namespace freshet {

// MurmurHash64A of `bytes` followed by a splitmix64 finalizer.
uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0);

// Hash of a value such that a == b implies HashValue(a) == HashValue(b): an integral double
// hashes like the equal int. Lists hash their items.
uint64_t HashValue(const Value& v);

// A total order: null < bool < number < string < list; numbers numerically (an int and a
// double that are equal compare equal), strings bytewise, lists lexicographically.
// Returns <0, 0 or >0.
int CompareValues(const Value& a, const Value& b);

}  // namespace freshet

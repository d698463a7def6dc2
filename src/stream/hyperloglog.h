// HyperLogLog: an approximate distinct count in bounded memory, for `distinct_count` with
// `approx: true`. Precision 14 (16384 registers): standard error 1.04 / sqrt(16384) ~ 0.8%.
//
// Small sketches stay sparse (a sorted list of the non-zero registers, 4 bytes each) and turn
// dense (one byte per register, 16 KiB) once the list would pass 8 KiB, so an entity that saw a
// handful of values costs a few bytes. The estimate uses Ertl's improved estimator ("New
// cardinality estimation algorithms for HyperLogLog sketches", 2017), which is unbiased over
// the whole range without empirical bias tables or a linear-counting switch-over.
//
// Sketches merge (register-wise max), so window tiles can be combined. Thread-safety: a value
// type; not safe for concurrent mutation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/byte_codec.h"

namespace freshet {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr uint32_t kRegisters = 1u << kPrecision;

  // Adds a 64-bit hash of a value (HashValue); the bits must be well mixed.
  void Add(uint64_t hash);
  void Merge(const HyperLogLog& other);
  double Estimate() const;
  bool empty() const { return sparse_.empty() && dense_.empty(); }
  size_t MemoryBytes() const;

  void Encode(std::string* out) const;
  bool Decode(byte_codec::ByteReader* in);

 private:
  void SetRegister(uint32_t index, uint8_t rank);
  void ToDense();

  // Sparse: (index << 8 | rank), sorted by index, one entry per index. Empty when dense.
  std::vector<uint32_t> sparse_;
  // Dense: one rank per register; empty while sparse.
  std::vector<uint8_t> dense_;
};

}  // namespace freshet

#include "stream/hyperloglog.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace freshet {
namespace {

constexpr int kQ = 64 - HyperLogLog::kPrecision;  // hash bits that give the rank
constexpr size_t kMaxSparse = HyperLogLog::kRegisters / 8;
// Encoding modes. Part of the state format: never renumber.
constexpr uint8_t kModeSparse = 0;
constexpr uint8_t kModeDense = 1;

// Ertl's sigma and tau (the 2017 paper, Algorithm 6).
double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0, z = x;
  for (;;) {
    x *= x;
    double z_old = z;
    z += x * y;
    y += y;
    if (z == z_old) return z;
  }
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0, z = 1.0 - x;
  for (;;) {
    x = std::sqrt(x);
    double z_old = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
    if (z == z_old) return z / 3.0;
  }
}

}  // namespace

void HyperLogLog::Add(uint64_t hash) {
  uint32_t index = static_cast<uint32_t>(hash >> kQ);
  uint64_t rest = hash << kPrecision;  // the low kQ bits, moved to the top
  int rank = rest == 0 ? kQ + 1 : std::min(__builtin_clzll(rest) + 1, kQ + 1);
  SetRegister(index, static_cast<uint8_t>(rank));
}

void HyperLogLog::SetRegister(uint32_t index, uint8_t rank) {
  if (!dense_.empty()) {
    dense_[index] = std::max(dense_[index], rank);
    return;
  }
  uint32_t entry = (index << 8) | rank;
  auto it = std::lower_bound(sparse_.begin(), sparse_.end(), index << 8);
  if (it != sparse_.end() && (*it >> 8) == index) {
    *it = std::max(*it, entry);
    return;
  }
  sparse_.insert(it, entry);
  if (sparse_.size() > kMaxSparse) ToDense();
}

void HyperLogLog::ToDense() {
  dense_.assign(kRegisters, 0);
  for (uint32_t e : sparse_) dense_[e >> 8] = static_cast<uint8_t>(e & 0xff);
  std::vector<uint32_t>().swap(sparse_);
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (!other.dense_.empty()) {
    if (dense_.empty()) ToDense();
    for (uint32_t i = 0; i < kRegisters; ++i) dense_[i] = std::max(dense_[i], other.dense_[i]);
    return;
  }
  for (uint32_t e : other.sparse_) SetRegister(e >> 8, static_cast<uint8_t>(e & 0xff));
}

double HyperLogLog::Estimate() const {
  if (empty()) return 0.0;
  std::array<double, kQ + 2> histogram{};
  if (dense_.empty()) {
    histogram[0] = kRegisters - sparse_.size();
    for (uint32_t e : sparse_) histogram[e & 0xff] += 1;
  } else {
    for (uint8_t r : dense_) histogram[r] += 1;
  }
  const double m = kRegisters;
  double z = m * Tau(1.0 - histogram[kQ + 1] / m);
  for (int k = kQ; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * Sigma(histogram[0] / m);
  return m * m / (2.0 * std::log(2.0) * z);
}

size_t HyperLogLog::MemoryBytes() const {
  return sparse_.capacity() * sizeof(uint32_t) + dense_.capacity();
}

void HyperLogLog::Encode(std::string* out) const {
  using namespace byte_codec;
  if (dense_.empty()) {
    out->push_back(static_cast<char>(kModeSparse));
    PutVarint(out, sparse_.size());
    uint32_t prev = 0;
    for (uint32_t e : sparse_) {  // ascending: delta-encode
      PutVarint(out, e - prev);
      prev = e;
    }
    return;
  }
  out->push_back(static_cast<char>(kModeDense));
  out->append(reinterpret_cast<const char*>(dense_.data()), dense_.size());
}

bool HyperLogLog::Decode(byte_codec::ByteReader* in) {
  uint8_t mode;
  if (!in->GetByte(&mode)) return false;
  sparse_.clear();
  dense_.clear();
  if (mode == kModeDense) {
    dense_.resize(kRegisters);
    for (uint8_t& r : dense_) {
      if (!in->GetByte(&r) || r > kQ + 1) {
        dense_.clear();
        return false;
      }
    }
    return true;
  }
  uint64_t n;
  if (mode != kModeSparse || !in->GetCount(&n) || n > kMaxSparse) return false;
  sparse_.reserve(n);
  // Each entry must name a register that exists, with a rank Add could give it, after the
  // previous entry's register: ToDense and Estimate index arrays with them.
  uint64_t entry = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta;
    if (!in->GetVarint(&delta) || delta > 0xffffffffULL) return false;
    uint64_t prev_index = entry >> 8;
    entry += delta;
    uint64_t index = entry >> 8, rank = entry & 0xff;
    if (index >= kRegisters || rank == 0 || rank > kQ + 1 || (i > 0 && index <= prev_index)) {
      sparse_.clear();
      return false;
    }
    sparse_.push_back(static_cast<uint32_t>(entry));
  }
  return true;
}

}  // namespace freshet

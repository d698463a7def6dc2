// Every decoder of stored bytes: the first byte picks one, the rest is its input. A decoder
// must reject corrupt bytes with false or an error Status, and what it accepts must be usable
// (read, merged, evicted, encoded again) without reading or writing out of bounds.
//
//   0 HyperLogLog          1 Aggregation (next byte: which)   2 ViewState (the fixed view)
//   3 event log Record     4 checkpoint progress              5 late event
//   6 model record (JSON)  7 model version (JSON)
//
// With FRESHET_FUZZ_WRITE_SEEDS=<dir> set, writes one realistic input per decoder to <dir>
// and exits (how fuzz/corpus/state_decoder_fuzzer was made).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_codec.h"
#include "format/record.h"
#include "fuzz_spec.h"
#include "models/registry_codec.h"
#include "stream/accumulator.h"
#include "stream/checkpoint_records.h"
#include "stream/compiled_view.h"
#include "stream/hyperloglog.h"
#include "stream/value_ops.h"

using namespace freshet;

namespace {

enum Decoder : uint8_t {
  kHll = 0,
  kAgg = 1,
  kViewState = 2,
  kRecord = 3,
  kProgress = 4,
  kLate = 5,
  kModel = 6,
  kModelVersion = 7,
  kDecoders = 8,
};

struct AggCase {
  AggKind kind;
  int n;
  bool approx;
  bool int_input;
  double q = 0;
};
const AggCase kAggs[] = {
    {AggKind::kCount, 0, false, false},
    {AggKind::kSum, 0, false, false},
    {AggKind::kSum, 0, false, true},
    {AggKind::kMean, 0, false, false},
    {AggKind::kMin, 0, false, false},
    {AggKind::kMax, 0, false, true},
    {AggKind::kVariance, 0, false, false},
    {AggKind::kFirst, 0, false, false},
    {AggKind::kLast, 0, false, false},
    {AggKind::kLastN, 3, false, false},
    {AggKind::kDistinctCount, 0, false, false},
    {AggKind::kDistinctCount, 0, true, false},
    {AggKind::kTopK, 2, false, false},
    {AggKind::kRate, 0, false, false},
    {AggKind::kTrend, 0, false, false},
    {AggKind::kApproxPercentile, 0, false, false, 0.9},
    {AggKind::kApproxPercentile, 0, false, true, 0.5},
};
constexpr size_t kAggCount = sizeof(kAggs) / sizeof(kAggs[0]);

// An input value of the type aggregation `c` takes (numbers for sums, moments, trends and
// quantiles).
Value Input(const AggCase& c, int i) {
  if (c.int_input) return Value::Int(i * 7);
  switch (c.kind) {
    case AggKind::kSum:
    case AggKind::kMean:
    case AggKind::kVariance:
    case AggKind::kStddev:
      return Value::Double(i * 1.5);
    case AggKind::kTrend:
    case AggKind::kApproxPercentile:
      return Value::Double(i * 1.5 - 3);  // negatives and a zero
    default:
      return Value::String(i % 2 ? "sleep" : "focus");
  }
}

const CompiledView& View() {
  static const std::shared_ptr<const CompiledView> view = [] {
    auto compiled = CompiledView::Compile(fuzz::Spec(), fuzz::Spec().feature_views.at("v"));
    if (!compiled.ok()) std::abort();
    return std::move(compiled).value();
  }();
  return *view;
}

// The version byte and view fingerprint every state of View() starts with, so the fuzzer
// spends its time past them.
const std::string& StateHeader() {
  static const std::string header = [] {
    std::string bytes;
    View().NewState()->Serialize(&bytes);
    return bytes.substr(0, 9);
  }();
  return header;
}

Record Event(int64_t ts, const char* user, const char* event, const char* category, double amount,
             int64_t qty, bool ok) {
  Record r;
  r.ts_ms = ts;
  r.values = {Value::String(user),   Value::Int(ts),  Value::String(event), Value::String(category),
              Value::Double(amount), Value::Int(qty), Value::Bool(ok),      Value::Int(ts)};
  return r;
}

void DecodeHll(std::string_view in) {
  byte_codec::ByteReader reader(in);
  HyperLogLog hll;
  if (!hll.Decode(&reader)) return;
  hll.Estimate();
  std::string bytes;
  hll.Encode(&bytes);
  byte_codec::ByteReader again(bytes);
  HyperLogLog copy;
  FUZZ_CHECK(copy.Decode(&again) && again.empty());
  FUZZ_CHECK(copy.Estimate() == hll.Estimate() || hll.Estimate() != hll.Estimate());
  copy.Merge(hll);
  HyperLogLog dense;
  for (int i = 0; i < 3000; ++i) dense.Add(HashValue(Value::Int(i)));
  dense.Merge(hll);
  hll.Merge(dense);
  hll.Estimate();
}

void DecodeAgg(std::string_view in) {
  if (in.empty()) return;
  const AggCase& c = kAggs[static_cast<uint8_t>(in[0]) % kAggCount];
  Aggregation agg(c.kind, c.n, c.approx, c.int_input, c.q);
  byte_codec::ByteReader reader(in.substr(1));
  Acc acc;
  if (!agg.Decode(&reader, &acc)) return;
  agg.Result(acc, 60'000);
  agg.MemoryBytes(acc);
  Acc other = acc;
  agg.Merge(&other, acc);
  agg.Add(&other, c.int_input ? Value::Int(INT64_MAX) : Input(c, 3), INT64_MIN, 0);
  agg.Result(other, 1);
  std::string bytes;
  agg.Encode(acc, &bytes);
  byte_codec::ByteReader again(bytes);
  Acc copy;
  FUZZ_CHECK(agg.Decode(&again, &copy) && again.empty());
}

void DecodeViewState(std::string_view in) {
  auto state = View().NewState();
  std::string bytes = StateHeader();
  bytes.append(in);
  Status st = state->Deserialize(bytes);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == StatusCode::kIoError);
    return;
  }
  std::vector<Value> out;
  const int64_t last = state->last_event_ms();
  for (int64_t t : {INT64_MIN, int64_t{0}, last, last == INT64_MAX ? last : last + 1, INT64_MAX}) {
    View().ReadEntity(state.get(), t, {}, &out);
  }
  state->MemoryBytes();
  std::string again;
  state->Serialize(&again);
  auto copy = View().NewState();
  FUZZ_CHECK(copy->Deserialize(again).ok());
  if (last != INT64_MIN && last != INT64_MAX) {
    state->Insert(Event(last + 1, "u1", "exit", "sleep", 1.5, 3, true));
    View().ReadEntity(state.get(), last + 2, {}, &out);
  }
  state->Evict(last);
  View().ReadEntity(state.get(), last, {}, &out);
  state->Evict(INT64_MAX);
}

void DecodeRecordBytes(std::string_view in) {
  Record r;
  Status st = DecodeRecord(in, &r);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == StatusCode::kIoError);
    return;
  }
  std::string bytes;
  EncodeRecord(r, &bytes);
  FUZZ_CHECK(DecodeRecord(bytes, &r).ok());
}

void DecodeProgressBytes(std::string_view in) {
  SourceProgress p;
  if (!DecodeProgress("events", in, &p).ok()) return;
  SourceProgress back;
  FUZZ_CHECK(DecodeProgress("events", EncodeProgress(p), &back).ok());
  FUZZ_CHECK(back.next_offsets == p.next_offsets && back.max_event_ms == p.max_event_ms);
}

// The key's length comes first (one byte), then the key, then the value.
void DecodeLateBytes(std::string_view in) {
  if (in.empty()) return;
  size_t key_size = std::min<size_t>(static_cast<uint8_t>(in[0]), in.size() - 1);
  std::string_view key = in.substr(1, key_size);
  std::string_view value = in.substr(1 + key_size);
  LateEvent e;
  (void)DecodeLate("events", key, value, &e);
}

void DecodeModel(std::string_view in) {
  auto record = DecodeModelRecord(in);
  if (record.ok()) FUZZ_CHECK(DecodeModelRecord(EncodeModelRecord(*record)).ok());
}

void DecodeVersion(std::string_view in) {
  auto version = DecodeModelVersion(in);
  if (version.ok()) FUZZ_CHECK(DecodeModelVersion(EncodeModelVersion(*version)).ok());
}

void Write(const std::string& dir, const std::string& name, Decoder decoder,
           std::string_view bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << static_cast<char>(decoder) << bytes;
}

// Realistic inputs: what the encoders write for a few events.
void WriteSeeds(const std::string& dir) {
  HyperLogLog sparse, dense;
  for (int i = 0; i < 20; ++i) sparse.Add(HashValue(Value::Int(i)));
  for (int i = 0; i < 20'000; ++i) dense.Add(HashValue(Value::Int(i)));
  std::string bytes;
  sparse.Encode(&bytes);
  Write(dir, "hll_sparse", kHll, bytes);
  bytes.clear();
  dense.Encode(&bytes);
  Write(dir, "hll_dense", kHll, bytes);

  for (size_t k = 0; k < kAggCount; ++k) {
    const AggCase& c = kAggs[k];
    Aggregation agg(c.kind, c.n, c.approx, c.int_input, c.q);
    Acc acc = agg.NewAcc();
    for (int i = 0; i < 5; ++i) agg.Add(&acc, Input(c, i), 1000 * i, static_cast<uint64_t>(i));
    bytes.assign(1, static_cast<char>(k));
    agg.Encode(acc, &bytes);
    Write(dir, "agg_" + std::to_string(k), kAgg, bytes);
  }

  auto state = View().NewState();
  const char* categories[] = {"sleep", "focus", "move"};
  for (int i = 0; i < 12; ++i) {
    state->Insert(Event(1'767'225'600'000 + 45'000 * i, "u1", i % 3 ? "start" : "exit",
                        categories[i % 3], 0.5 * i, i, i % 2 == 0));
  }
  bytes.clear();
  state->Serialize(&bytes);
  Write(dir, "view_state", kViewState, std::string_view(bytes).substr(9));

  Record r = Event(1'767'225'600'000, "u1", "start", "sleep", 12.5, 4, true);
  r.values[3] = Value();
  bytes.clear();
  EncodeRecord(r, &bytes);
  Write(dir, "record", kRecord, bytes);

  SourceProgress p;
  p.next_offsets[0] = 1234;
  p.max_event_ms = 1'767'225'600'000;
  p.late_events = 2;
  Write(dir, "progress", kProgress, EncodeProgress(p));

  LateEvent late;
  late.watermark_ms = 1'767'225'660'000;
  late.record = r;
  std::string key = "events";
  key.push_back('\0');
  key.append("\0\0\0\0\0\0\0\x07", 8);
  Write(dir, "late", kLate, static_cast<char>(key.size()) + key + EncodeLate(late));

  ModelRecord model;
  model.name = "next_content";
  model.created_ms = 1'767'225'600'000;
  model.latest_version = 2;
  model.aliases = {{"champion", 2}, {"previous", 1}};
  model.tags = {{"team", "growth"}};
  model.version_tags = {{2, {{"stage", "prod"}}}};
  model.alias_history = {{"champion", 1, 0, 1'767'225'600'000, "alice", false},
                         {"champion", 2, 1, 1'767'225'700'000, "alice", false}};
  Write(dir, "model", kModel, EncodeModelRecord(model));

  ModelVersion version;
  version.name = "next_content";
  version.version = 2;
  version.runtime = "xgboost";
  version.content_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  version.artifact_path = "models/blobs/sha256/" + version.content_hash + ".json";
  version.artifact_name = "model.json";
  version.artifact_size = 48213;
  version.created_ms = 1'767'225'600'000;
  version.num_features = 3;
  version.description = "daily retrain";
  version.metrics = {{"auc", 0.81}};
  version.params = {{"max_depth", "4"}};
  version.signature = {{"activity:events_10m", "int64"},
                       {"activity:listen_s_1h", "double"},
                       {"activity:sleep_share_1h", "derived"}};
  version.lineage.feature_service = "recommender";
  version.lineage.runtime_library = "xgboost 1.7.4";
  version.lineage.created_by = "alice";
  Write(dir, "model_version", kModelVersion, EncodeModelVersion(version));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("FRESHET_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % kDecoders) {
    case kHll:
      DecodeHll(in);
      break;
    case kAgg:
      DecodeAgg(in);
      break;
    case kViewState:
      DecodeViewState(in);
      break;
    case kRecord:
      DecodeRecordBytes(in);
      break;
    case kProgress:
      DecodeProgressBytes(in);
      break;
    case kLate:
      DecodeLateBytes(in);
      break;
    case kModel:
      DecodeModel(in);
      break;
    case kModelVersion:
      DecodeVersion(in);
      break;
  }
  return 0;
}

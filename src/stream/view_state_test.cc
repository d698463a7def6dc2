#include "stream/view_state.h"

#include <gtest/gtest.h>

#include <random>

#include "spec/spec_loader.h"

namespace freshet {
namespace {

constexpr char kSpec[] = R"yaml(project: t
entities:
  user: {key: user_id}
sources:
  events:
    kind: http
    timestamp: ts
    fields: {user_id: string, ts: timestamp, event: string, category: string, amount: double,
             qty: int64, ok: bool}
feature_views:
  v:
    entity: user
    source: events
    features:
      n_1m: {agg: count, window: 1m}
      exits_10m: {agg: count, window: 10m, where: "event = 'exit'"}
      sum_10m: {agg: sum, of: amount, window: 10m}
      qty_10m: {agg: sum, of: qty, window: 10m}
      var_10m: {agg: variance, of: amount, window: 10m}
      cats_10m: {agg: distinct_count, of: category, window: 10m}
      top_10m: {agg: top_k, of: category, k: 2, window: 10m}
      hop_sd: {agg: stddev, of: amount, window: 10m, hop: 2m}
      hop_last: {agg: last_n, of: category, n: 2, window: 10m, hop: 2m}
      day_max: {agg: max, of: qty, window: 1d, tumbling: true}
      day_hll: {agg: distinct_count, of: category, approx: true, window: 1d, tumbling: true}
      session_n: {agg: count, session_gap: 3m, where: "ok"}
      session_rate: {agg: rate, session_gap: 3m}
      first_ever: {agg: first, of: category}
      top_ever: {agg: top_k, of: qty, k: 3}
      ratio: {expr: "exits_10m / nullif(n_1m, 0)"}
)yaml";

class ViewStateTest : public testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParseProject(kSpec, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
    auto view = CompiledView::Compile(spec_, spec_.feature_views.at("v"));
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    view_ = std::move(view).value();
  }

  // Random events over ~1 hour, mostly in order, some nulls.
  std::vector<Record> Events(size_t n, uint32_t seed) const {
    std::mt19937 rng(seed);
    std::vector<Record> out;
    int64_t t = 0;
    const char* events[] = {"exit", "start", "play"};
    for (size_t i = 0; i < n; ++i) {
      t += rng() % 8000;
      Record r;
      r.ts_ms = t - static_cast<int64_t>(rng() % 3000);
      r.values = {Value::String("u1"),
                  Value::Int(r.ts_ms),
                  Value::String(events[rng() % 3]),
                  rng() % 7 == 0 ? Value() : Value::String("c" + std::to_string(rng() % 6)),
                  rng() % 9 == 0 ? Value() : Value::Double((rng() % 1000) / 8.0),
                  Value::Int(static_cast<int64_t>(rng() % 50) - 10),
                  rng() % 5 == 0 ? Value() : Value::Bool(rng() % 2 == 0)};
      out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<Value> ReadAll(EntityState* s, int64_t t) const {
    std::vector<Value> out;
    s->Read(t, {}, &out);
    return out;
  }

  ProjectSpec spec_;
  std::shared_ptr<const CompiledView> view_;
};

std::string Text(const std::vector<Value>& values) {
  std::string out;
  for (const Value& v : values) out += v.ToString() + " ";
  return out;
}

TEST_F(ViewStateTest, SerializeRoundTripKeepsEveryValue) {
  auto state = view_->NewState();
  for (const Record& r : Events(600, 1)) state->Insert(r);
  std::string bytes;
  state->Serialize(&bytes);
  auto copy = view_->NewState();
  ASSERT_TRUE(copy->Deserialize(bytes).ok());
  std::string again;
  copy->Serialize(&again);
  EXPECT_EQ(bytes, again);
  EXPECT_EQ(copy->last_event_ms(), state->last_event_ms());
  for (int64_t t : {state->last_event_ms() - 100'000, state->last_event_ms(),
                    state->last_event_ms() + 1, state->last_event_ms() + 120'000}) {
    EXPECT_EQ(Text(ReadAll(copy.get(), t)), Text(ReadAll(state.get(), t))) << "t=" << t;
  }
  // Ties after a restore still go to later arrivals: the sequence counter was kept.
  Record tie = Events(1, 9)[0];
  tie.ts_ms = state->last_event_ms();
  state->Insert(tie);
  copy->Insert(tie);
  EXPECT_EQ(Text(ReadAll(copy.get(), tie.ts_ms + 1)), Text(ReadAll(state.get(), tie.ts_ms + 1)));
}

TEST_F(ViewStateTest, ClearedStateBehavesAsANewOne) {
  auto reused = view_->NewState();
  for (const Record& r : Events(400, 4)) reused->Insert(r);
  reused->Clear();
  auto fresh = view_->NewState();
  EXPECT_EQ(reused->last_event_ms(), INT64_MIN);
  EXPECT_EQ(Text(ReadAll(reused.get(), 1'000'000)), Text(ReadAll(fresh.get(), 1'000'000)));
  std::vector<Record> next = Events(300, 5);
  for (const Record& r : next) {
    reused->Insert(r);
    fresh->Insert(r);
  }
  std::string a, b;
  reused->Serialize(&a);
  fresh->Serialize(&b);
  EXPECT_EQ(a, b);
  for (int64_t t : {next.front().ts_ms, next[150].ts_ms, next.back().ts_ms + 1}) {
    EXPECT_EQ(Text(ReadAll(reused.get(), t)), Text(ReadAll(fresh.get(), t))) << "t=" << t;
  }
}

TEST_F(ViewStateTest, DeserializeRejectsCorruptAndForeignStates) {
  auto state = view_->NewState();
  for (const Record& r : Events(50, 2)) state->Insert(r);
  std::string bytes;
  state->Serialize(&bytes);
  auto copy = view_->NewState();
  EXPECT_EQ(copy->Deserialize(bytes.substr(0, bytes.size() - 3)).code(), StatusCode::kIoError);
  EXPECT_EQ(copy->Deserialize(bytes + "x").code(), StatusCode::kIoError);
  EXPECT_EQ(copy->Deserialize("").code(), StatusCode::kIoError);

  // Every truncation and every single-byte change is rejected or decodes into a state that
  // reads and evicts safely (the sanitizer builds check the "safely").
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(copy->Deserialize(bytes.substr(0, cut)).code(), StatusCode::kIoError) << cut;
  }
  std::vector<Value> out;
  for (size_t i = 9; i < bytes.size(); ++i) {
    for (int flip : {0x01, 0x40, 0x80, 0xff}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ flip);
      auto damaged = view_->NewState();
      if (!damaged->Deserialize(corrupt).ok()) continue;
      damaged->Read(3'600'000, {}, &out);
      damaged->Evict(1'800'000);
    }
  }

  // The same view with one more feature has another layout: its states are not loaded.
  ProjectSpec changed = spec_;
  FeatureSpec extra = changed.feature_views.at("v").features[0];
  extra.name = "extra";
  extra.window_ms = 120'000;
  changed.feature_views.at("v").features.push_back(extra);
  auto other = CompiledView::Compile(changed, changed.feature_views.at("v"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->NewState()->Deserialize(bytes).code(), StatusCode::kInvalidArgument);
}

TEST_F(ViewStateTest, EvictKeepsReadsAtOrAfterTheHorizonAndFreesMemory) {
  auto state = view_->NewState();
  auto reference = view_->NewState();
  std::vector<Record> events = Events(2000, 3);
  for (const Record& r : events) {
    state->Insert(r);
    reference->Insert(r);
  }
  size_t before = state->MemoryBytes();
  const int64_t horizon = state->last_event_ms() - 60'000;
  EXPECT_FALSE(state->Evict(horizon));
  EXPECT_LT(state->MemoryBytes(), before / 2);
  for (int64_t t : {horizon, horizon + 30'000, state->last_event_ms() + 1, horizon + 3600'000}) {
    EXPECT_EQ(Text(ReadAll(state.get(), t)), Text(ReadAll(reference.get(), t))) << "t=" << t;
  }
}

// A view "v" over a source whose events carry only user_id and ts, with `features` (YAML
// lines of the view's features mapping).
Result<std::shared_ptr<const CompiledView>> CompileTimestampOnlyView(const std::string& features) {
  auto spec = ParseProject(R"yaml(project: t
entities:
  user: {key: user_id}
sources:
  events: {kind: http, timestamp: ts, fields: {user_id: string, ts: timestamp}}
feature_views:
  v:
    entity: user
    source: events
    features:)yaml" + features +
                               "\n",
                           "freshet.yaml");
  if (!spec.ok()) return spec.status();
  return CompiledView::Compile(*spec, spec->feature_views.at("v"));
}

TEST(ViewStateEvictTest, StateWithOnlyWindowsEmptiesOnceEverythingExpired) {
  auto view = CompileTimestampOnlyView(R"yaml(
      n: {agg: count, window: 1m}
      s: {agg: count, session_gap: 1m}
      h: {agg: count, window: 2m, hop: 1m})yaml");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  auto state = (*view)->NewState();
  Record r;
  r.ts_ms = 1000;
  r.values = {Value::String("u"), Value::Int(1000)};
  state->Insert(r);
  EXPECT_FALSE(state->Evict(30'000));
  EXPECT_TRUE(state->Evict(1000 + 3 * 60'000 + 1));
  EXPECT_EQ(state->last_event_ms(), 1000);
}

// For every horizon around the window edges, an evicted copy reads like the full state at
// and after the horizon: the eviction bounds have no off-by-one.
TEST(ViewStateEvictTest, EvictionBoundsAreExact) {
  auto view = CompileTimestampOnlyView(R"yaml(
      sliding: {agg: count, window: 1m}
      hopping: {agg: count, window: 2m, hop: 1m}
      tumbling: {agg: count, window: 1m, tumbling: true}
      session: {agg: count, session_gap: 1m})yaml");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  auto full = (*view)->NewState();
  for (int64_t ts : {0, 30'000, 59'999, 60'000, 150'000}) {
    Record r;
    r.ts_ms = ts;
    r.values = {Value::String("u"), Value::Int(ts)};
    full->Insert(r);
  }
  std::string bytes;
  full->Serialize(&bytes);
  for (int64_t horizon = 0; horizon <= 150'000; horizon += 250) {
    auto evicted = (*view)->NewState();
    ASSERT_TRUE(evicted->Deserialize(bytes).ok());
    evicted->Evict(horizon);
    for (int64_t t : {horizon, horizon + 1, horizon + 499, horizon + 30'000, horizon + 60'000}) {
      std::vector<Value> want, got;
      full->Read(t, {}, &want);
      evicted->Read(t, {}, &got);
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i], want[i]) << "horizon " << horizon << " t " << t << " feature " << i;
      }
    }
  }
}

TEST_F(ViewStateTest, CompiledViewDescribesItself) {
  EXPECT_EQ(view_->FeatureIndex("ratio"), 15);
  EXPECT_EQ(view_->FeatureIndex("nope"), -1);
  EXPECT_EQ(view_->key_field_indexes(), std::vector<int>{0});
  EXPECT_EQ(view_->retention_ms(), 86'400'000);
  auto indexes = view_->FeatureIndexes({"ratio", "n_1m"});
  ASSERT_TRUE(indexes.ok());
  EXPECT_EQ(*indexes, (std::vector<int>{15, 0}));
  EXPECT_EQ(view_->FeatureIndexes({"zzz"}).status().code(), StatusCode::kNotFound);
}

TEST_F(ViewStateTest, ReadOfSomeFeaturesComputesTheirDependencies) {
  auto state = view_->NewState();
  for (const Record& r : Events(100, 4)) state->Insert(r);
  int64_t t = state->last_event_ms() + 1;
  std::vector<Value> all = ReadAll(state.get(), t);
  std::vector<Value> some;
  state->Read(t, {15, 2}, &some);
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0].ToString(), all[15].ToString());
  EXPECT_EQ(some[1].ToString(), all[2].ToString());
}

}  // namespace
}  // namespace freshet

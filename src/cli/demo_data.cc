#include "cli/demo_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <span>
#include <string_view>

#include "core/json.h"

namespace freshet {
namespace {

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

// ---- Randomness --------------------------------------------------------------------------------

// SplitMix64 finalizer: turns (seed, stream) into well-separated engine seeds, so user i's stream
// does not depend on how many numbers users 0..i-1 drew.
uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// mt19937_64 is specified bit for bit by the standard; the <random> distributions are not, so the
// transforms below are our own and the data are the same on every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  bool Chance(double p) { return Uniform() < p; }
  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }
  // Uniform in [0, n). REQUIRES: n > 0.
  size_t Index(size_t n) { return std::min(n - 1, static_cast<size_t>(Uniform() * n)); }

  // An index drawn with probability proportional to weights[i]. REQUIRES: some weight > 0.
  template <size_t N>
  size_t Pick(const std::array<double, N>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = Uniform() * total;
    for (size_t i = 0; i < N; ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return N - 1;  // rounding at the top end
  }

 private:
  std::mt19937_64 engine_;
};

// ---- The app's world ---------------------------------------------------------------------------

// A plain enum: its values index CategoryWeights.
enum Category : size_t { kSleep, kFocus, kMove, kMeditate, kStress, kNumCategories };
constexpr std::array<std::string_view, kNumCategories> kCategoryNames = {"sleep", "focus", "move",
                                                                         "meditate", "stress"};
using CategoryWeights = std::array<double, kNumCategories>;

// Archetypal preferences; a user's persona leans strongly towards one of them.
constexpr size_t kNumArchetypes = 5;
constexpr std::array<CategoryWeights, kNumArchetypes> kArchetypes = {{
    {0.55, 0.08, 0.07, 0.20, 0.10},  // sleeper
    {0.08, 0.55, 0.10, 0.17, 0.10},  // focus worker
    {0.07, 0.13, 0.55, 0.15, 0.10},  // mover
    {0.12, 0.10, 0.08, 0.55, 0.15},  // meditator
    {0.15, 0.12, 0.08, 0.15, 0.50},  // stressed
}};
// How often each archetype occurs: sleep content is what most users of such apps come for.
constexpr std::array<double, kNumArchetypes> kArchetypeFrequency = {0.35, 0.2, 0.15, 0.15, 0.15};
// A persona is this much its archetype and the rest random preferences.
constexpr double kPersonaArchetypeWeight = 0.7;

// Relative session arrival rate by hour of day (UTC stands in for every user's local time):
// low in the small hours, peaks at waking and at bedtime.
// clang-format off: one row per half day.
constexpr std::array<double, 24> kSessionIntensity = {
    0.9, 0.5, 0.25, 0.15, 0.15, 0.3, 0.9, 1.3, 1.2, 0.8, 0.7, 0.7,   // 00:00-11:59
    1.0, 0.9, 0.7,  0.7,  0.8,  1.0, 1.1, 1.1, 1.3, 1.7, 1.9, 1.5};  // 12:00-23:59
// clang-format on
constexpr double kMaxIntensity = std::ranges::max(kSessionIntensity);
constexpr double kMeanIntensity = [] {
  double sum = 0;
  for (double x : kSessionIntensity) sum += x;
  return sum / kSessionIntensity.size();
}();

struct Persona {
  CategoryWeights preference{};  // sums to 1
  double sessions_per_day = 0;
};

// Content behaviour.
constexpr double kSearchProbability = 0.2;
constexpr double kContinueProbability = 0.65;              // another content in the same session
constexpr double kContinueAfterSleepingProbability = 0.2;  // sleep content completed at night
constexpr double kStickAfterCompleteProbability = 0.8;
constexpr double kStickWhileSeekingSleepProbability = 0.7;  // a sleep track left at night
constexpr double kRepeatAfterExitWeight = 0.25;             // damping of the exited category
constexpr int kMaxContentsPerSession = 8;
// Sessions are separated by more than the example's session_gap (30m).
constexpr int64_t kMinSessionGapMs = 31 * kMinuteMs;

// Labels: share sampled just before a start (the recommender's moment), and how long before.
constexpr double kBrowseLabelShare = 0.7;
constexpr int64_t kBrowseWindowMs = kMinuteMs;

int HourOf(int64_t ts_ms) {
  int64_t in_day = ts_ms % kDayMs;
  if (in_day < 0) in_day += kDayMs;
  return static_cast<int>(in_day / kHourMs);
}

bool IsNight(int hour) { return hour >= 21 || hour < 2; }

// How much more likely each category is at this hour than on average.
CategoryWeights TimeOfDayFactors(int hour) {
  CategoryWeights f{};
  f[kSleep] = IsNight(hour) ? 4.0 : (hour < 6 ? 2.0 : 0.3);
  f[kFocus] = (hour >= 8 && hour < 18) ? 2.0 : 0.4;
  f[kMove] = ((hour >= 6 && hour < 9) || (hour >= 17 && hour < 20)) ? 2.0 : 0.7;
  f[kMeditate] = (hour >= 6 && hour < 9) ? 1.6 : (hour >= 21 ? 1.3 : 1.0);
  f[kStress] = (hour >= 12 && hour < 19) ? 1.5 : 0.8;
  return f;
}

CategoryWeights ChoiceWeights(const Persona& persona, int hour) {
  CategoryWeights w = TimeOfDayFactors(hour);
  for (size_t c = 0; c < kNumCategories; ++c) w[c] *= persona.preference[c];
  return w;
}

Persona DrawPersona(Rng& rng) {
  const CategoryWeights& archetype = kArchetypes[rng.Pick(kArchetypeFrequency)];
  CategoryWeights noise{};
  double noise_total = 0;
  for (double& x : noise) noise_total += (x = rng.Exponential(1.0));
  Persona p;
  for (size_t c = 0; c < kNumCategories; ++c) {
    p.preference[c] = kPersonaArchetypeWeight * archetype[c] +
                      (1 - kPersonaArchetypeWeight) * noise[c] / noise_total;
  }
  p.sessions_per_day = rng.Uniform(1.5, 5.0);
  return p;
}

// Full length of a content item, seconds.
double ContentLengthS(size_t category, Rng& rng) {
  constexpr std::array<std::array<double, 2>, kNumCategories> kRange = {
      {{180, 2400}, {600, 1500}, {300, 1200}, {300, 1200}, {180, 600}}};
  return rng.Uniform(kRange[category][0], kRange[category][1]);
}

// Users leave content they do not care for, and sleep content in daytime, more often.
double ExitProbability(const Persona& persona, size_t category, int hour) {
  double p = 0.15;
  if (persona.preference[category] < 0.12) p += 0.3;
  if (category == kSleep && !IsNight(hour) && hour >= 6) p += 0.25;
  return p;
}

std::string UserId(int index) { return fmt::format("u{}", index); }

// Seconds at the generator's resolution (0.1 s), so NDJSON round trips exactly.
double RoundSeconds(double s) { return std::round(s * 10) / 10; }
int64_t SecondsToMs(double s) { return std::llround(s * 1000); }

// Appends one user's events, dropping any at or past the end of the span.
struct EventSink {
  const std::string& user_id;
  int64_t end_ms;
  std::vector<DemoEvent>* out;

  void Emit(int64_t ts_ms, std::string_view event, size_t category, double duration_s) {
    if (ts_ms >= end_ms) return;
    out->push_back(
        {user_id, ts_ms, std::string(event), std::string(kCategoryNames[category]), duration_s});
  }
};

struct Play {
  double listened_s = 0;
  bool completed = false;
};

Play PlayContent(const Persona& persona, size_t category, int hour, Rng& rng) {
  double length_s = ContentLengthS(category, rng);
  if (rng.Chance(ExitProbability(persona, category, hour))) {
    return {RoundSeconds(length_s * rng.Uniform(0.03, 0.4)), false};
  }
  return {RoundSeconds(length_s), true};
}

// The category after a play: users stay after completing content and move on after exiting,
// except that at night a user who leaves a sleep track mostly looks for another one.
size_t NextCategory(const Persona& persona, size_t category, const Play& play, int hour, Rng& rng) {
  bool seeking_sleep = category == kSleep && IsNight(hour);
  double stick = play.completed ? kStickAfterCompleteProbability
                                : (seeking_sleep ? kStickWhileSeekingSleepProbability : 0.0);
  if (rng.Chance(stick)) return category;
  CategoryWeights w = ChoiceWeights(persona, hour);
  if (!play.completed) w[category] *= kRepeatAfterExitWeight;
  return rng.Pick(w);
}

// One session from t_ms: contents played back to back. Returns the time it ends.
int64_t SimulateSession(const Persona& persona, int64_t t_ms, Rng& rng, EventSink& sink) {
  size_t category = rng.Pick(ChoiceWeights(persona, HourOf(t_ms)));
  for (int played = 0; played < kMaxContentsPerSession && t_ms < sink.end_ms; ++played) {
    if (rng.Chance(kSearchProbability)) {
      sink.Emit(t_ms, "search", category, 0);
      t_ms += SecondsToMs(rng.Uniform(5, 25));
    }
    sink.Emit(t_ms, "start", category, 0);
    int hour = HourOf(t_ms);
    Play play = PlayContent(persona, category, hour, rng);
    t_ms += SecondsToMs(play.listened_s);
    sink.Emit(t_ms, play.completed ? "complete" : "exit", category, play.listened_s);
    t_ms += SecondsToMs(rng.Uniform(3, 40));
    bool fell_asleep = play.completed && category == kSleep && IsNight(hour);
    if (!rng.Chance(fell_asleep ? kContinueAfterSleepingProbability : kContinueProbability)) break;
    category = NextCategory(persona, category, play, HourOf(t_ms), rng);
  }
  return t_ms;
}

// Sessions arrive as a Poisson process whose rate follows kSessionIntensity (drawn by thinning).
void SimulateUser(const std::string& user_id, const DemoDataOptions& options, Rng& rng,
                  std::vector<DemoEvent>* out) {
  Persona persona = DrawPersona(rng);
  double peak_sessions_per_ms =
      persona.sessions_per_day * kMaxIntensity / kMeanIntensity / static_cast<double>(kDayMs);
  EventSink sink{user_id, options.start_ms + options.span_ms, out};
  double t_ms = static_cast<double>(options.start_ms);
  while (true) {
    t_ms += rng.Exponential(1.0 / peak_sessions_per_ms);
    if (t_ms >= static_cast<double>(sink.end_ms)) break;
    int64_t at = static_cast<int64_t>(t_ms);
    if (!rng.Chance(kSessionIntensity[HourOf(at)] / kMaxIntensity)) continue;
    t_ms = static_cast<double>(SimulateSession(persona, at, rng, sink) + kMinSessionGapMs);
  }
}

// ---- Labels ------------------------------------------------------------------------------------

// One user's content starts in time order, with what a label needs to know about each.
struct UserStarts {
  std::vector<int64_t> ts_ms;
  std::vector<int> is_sleep;
  std::vector<int64_t> prev_event_ms;  // the user's previous event, or the span start
};

UserStarts CollectStarts(std::span<const DemoEvent> user_events, int64_t span_start_ms) {
  UserStarts s;
  int64_t prev_ms = span_start_ms;
  for (const DemoEvent& e : user_events) {
    if (e.event == "start") {
      s.ts_ms.push_back(e.ts_ms);
      s.is_sleep.push_back(e.category == kCategoryNames[kSleep] ? 1 : 0);
      s.prev_event_ms.push_back(prev_ms);
    }
    prev_ms = e.ts_ms;
  }
  return s;
}

// A moment shortly before a random start, after the user's previous event: the app is showing
// the user what to play next.
std::optional<DemoData::Label> SampleBrowseLabel(const std::vector<UserStarts>& users,
                                                 const std::vector<std::pair<int, int>>& starts,
                                                 Rng& rng) {
  if (starts.empty()) return std::nullopt;
  auto [user, i] = starts[rng.Index(starts.size())];
  const UserStarts& s = users[user];
  int64_t window = std::min(kBrowseWindowMs, s.ts_ms[i] - s.prev_event_ms[i]);
  int64_t back = window > 0 ? static_cast<int64_t>(rng.Uniform() * static_cast<double>(window)) : 0;
  return DemoData::Label{UserId(user), s.ts_ms[i] - back, s.is_sleep[i]};
}

// A uniformly random user and moment; none when that user starts nothing later in the span.
std::optional<DemoData::Label> SampleUniformLabel(const std::vector<UserStarts>& users,
                                                  const DemoDataOptions& options, Rng& rng) {
  int user = static_cast<int>(rng.Index(users.size()));
  int64_t ts =
      options.start_ms + static_cast<int64_t>(rng.Uniform() * static_cast<double>(options.span_ms));
  const UserStarts& s = users[user];
  auto next = std::lower_bound(s.ts_ms.begin(), s.ts_ms.end(), ts);
  if (next == s.ts_ms.end()) return std::nullopt;
  return DemoData::Label{UserId(user), ts, s.is_sleep[next - s.ts_ms.begin()]};
}

std::vector<DemoData::Label> SampleLabels(const std::vector<UserStarts>& users,
                                          const DemoDataOptions& options) {
  if (users.empty()) return {};
  std::vector<std::pair<int, int>> starts;  // (user, index into its UserStarts)
  for (size_t u = 0; u < users.size(); ++u) {
    for (size_t i = 0; i < users[u].ts_ms.size(); ++i) {
      starts.emplace_back(static_cast<int>(u), static_cast<int>(i));
    }
  }
  Rng rng(MixSeed(options.seed, 0));
  std::vector<DemoData::Label> labels;
  const int64_t max_attempts = 20LL * std::max(options.labels, 1);
  for (int64_t attempt = 0; attempt < max_attempts && std::ssize(labels) < options.labels;
       ++attempt) {
    auto label = rng.Chance(kBrowseLabelShare) ? SampleBrowseLabel(users, starts, rng)
                                               : SampleUniformLabel(users, options, rng);
    if (label) labels.push_back(std::move(*label));
  }
  std::stable_sort(labels.begin(), labels.end(),
                   [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; });
  return labels;
}

// ---- Output ------------------------------------------------------------------------------------

// Creates or truncates `path` and lets `emit` write its content; reports open and write failures.
template <typename EmitFn>
Status WriteTextFile(const std::string& path, EmitFn emit) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IoError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  emit(out);
  out.close();
  if (!out) return Status::IoError(fmt::format("cannot write {}", path));
  return Status::Ok();
}

}  // namespace

DemoData GenerateDemoData(const DemoDataOptions& options) {
  DemoData data;
  std::vector<UserStarts> starts;
  starts.reserve(options.users);
  for (int u = 0; u < options.users; ++u) {
    Rng rng(MixSeed(options.seed, static_cast<uint64_t>(u) + 1));
    size_t first = data.events.size();
    SimulateUser(UserId(u), options, rng, &data.events);
    starts.push_back(CollectStarts(std::span(data.events).subspan(first), options.start_ms));
  }
  std::stable_sort(data.events.begin(), data.events.end(),
                   [](const DemoEvent& a, const DemoEvent& b) { return a.ts_ms < b.ts_ms; });
  data.labels = SampleLabels(starts, options);
  return data;
}

std::vector<DemoEvent> LiveSession(const std::string& user_id, int64_t start_ms, uint64_t seed) {
  struct Step {
    double gap_s;  // since the previous step; for exit and complete, also the seconds listened
    std::string_view event;
    std::string_view category;
  };
  // Nominal gaps sum to 414 s; jitter of at most +20% keeps the session under 9 minutes.
  constexpr std::array<Step, 10> kScript = {{
      {0, "search", "focus"},
      {6, "start", "focus"},
      {35, "exit", "focus"},
      {12, "search", "sleep"},
      {6, "start", "sleep"},
      {40, "exit", "sleep"},
      {10, "start", "sleep"},
      {55, "exit", "sleep"},
      {10, "start", "sleep"},
      {240, "complete", "sleep"},
  }};
  Rng rng(MixSeed(seed, ~0ULL));
  std::vector<DemoEvent> events;
  int64_t t_ms = start_ms;
  for (const Step& step : kScript) {
    double gap_s = RoundSeconds(step.gap_s * rng.Uniform(0.8, 1.2));
    t_ms += SecondsToMs(gap_s);
    bool ends_play = step.event == "exit" || step.event == "complete";
    events.push_back({user_id, t_ms, std::string(step.event), std::string(step.category),
                      ends_play ? gap_s : 0.0});
  }
  return events;
}

std::string ToNdjson(const DemoEvent& event) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  auto string = [&w](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("user_id");
  string(event.user_id);
  w.Key("ts_ms");
  w.Int64(event.ts_ms);
  w.Key("event");
  string(event.event);
  w.Key("category");
  string(event.category);
  // Tenths of a second are all the demo's durations mean.
  w.Key("duration_s");
  w.Double(std::round(event.duration_s * 10) / 10);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string ToNdjson(std::span<const DemoEvent> events) {
  std::string body;
  for (const DemoEvent& e : events) {
    body += ToNdjson(e);
    body.push_back('\n');
  }
  return body;
}

Status WriteEventsNdjson(const DemoData& data, const std::string& path) {
  return WriteTextFile(path, [&](std::ostream& out) {
    for (const DemoEvent& e : data.events) out << ToNdjson(e) << '\n';
  });
}

Status WriteLabelsCsv(const DemoData& data, const std::string& path) {
  return WriteTextFile(path, [&](std::ostream& out) {
    out << "user_id,ts_ms,label\n";
    for (const DemoData::Label& l : data.labels) {
      out << l.user_id << ',' << l.ts_ms << ',' << l.label << '\n';
    }
  });
}

}  // namespace freshet

#include "cli/demo_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace freshet {
namespace {

DemoDataOptions SmallOptions(uint64_t seed = 7) {
  DemoDataOptions o;
  o.seed = seed;
  o.users = 60;
  o.span_ms = 2 * 24 * 3600 * 1000LL;
  o.labels = 500;
  return o;
}

bool SameEvent(const DemoEvent& a, const DemoEvent& b) {
  return a.user_id == b.user_id && a.ts_ms == b.ts_ms && a.event == b.event &&
         a.category == b.category && a.duration_s == b.duration_s;
}

bool SameEvents(const std::vector<DemoEvent>& a, const std::vector<DemoEvent>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), SameEvent);
}

// The category of `user`'s first start at or after ts_ms, scanning the event stream; "" if none.
std::string NextStartCategory(const std::vector<DemoEvent>& events, const std::string& user,
                              int64_t ts_ms) {
  for (const DemoEvent& e : events) {
    if (e.user_id == user && e.event == "start" && e.ts_ms >= ts_ms) return e.category;
  }
  return "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("freshet_demo_data_test_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

TEST(DemoDataTest, SameSeedGivesSameDataAndOtherSeedsDiffer) {
  DemoData a = GenerateDemoData(SmallOptions(7));
  DemoData b = GenerateDemoData(SmallOptions(7));
  DemoData c = GenerateDemoData(SmallOptions(8));
  ASSERT_FALSE(a.events.empty());
  EXPECT_TRUE(SameEvents(a.events, b.events));
  ASSERT_EQ(a.labels.size(), b.labels.size());
  for (size_t i = 0; i < a.labels.size(); ++i) {
    EXPECT_EQ(a.labels[i].user_id, b.labels[i].user_id);
    EXPECT_EQ(a.labels[i].ts_ms, b.labels[i].ts_ms);
    EXPECT_EQ(a.labels[i].label, b.labels[i].label);
  }
  EXPECT_FALSE(SameEvents(a.events, c.events));
}

TEST(DemoDataTest, EventsAreSortedWellFormedAndInsideTheSpan) {
  DemoDataOptions o = SmallOptions();
  DemoData d = GenerateDemoData(o);
  EXPECT_TRUE(std::is_sorted(d.events.begin(), d.events.end(),
                             [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; }));
  const std::set<std::string> kEvents = {"search", "start", "exit", "complete"};
  const std::set<std::string> kCategories = {"sleep", "focus", "move", "meditate", "stress"};
  std::map<std::string, int> event_counts;
  std::set<std::string> categories, users;
  for (const DemoEvent& e : d.events) {
    EXPECT_GE(e.ts_ms, o.start_ms);
    EXPECT_LT(e.ts_ms, o.start_ms + o.span_ms);
    EXPECT_TRUE(kEvents.count(e.event)) << e.event;
    EXPECT_TRUE(kCategories.count(e.category)) << e.category;
    bool ends_play = e.event == "exit" || e.event == "complete";
    EXPECT_EQ(ends_play, e.duration_s > 0) << ToNdjson(e);
    ++event_counts[e.event];
    categories.insert(e.category);
    users.insert(e.user_id);
  }
  EXPECT_EQ(event_counts.size(), kEvents.size());
  EXPECT_EQ(categories, kCategories);
  EXPECT_GT(users.size(), 50u);  // nearly every user is active over two days
}

TEST(DemoDataTest, LabelsMatchEachUsersNextStart) {
  DemoDataOptions o = SmallOptions();
  DemoData d = GenerateDemoData(o);
  ASSERT_EQ(d.labels.size(), static_cast<size_t>(o.labels));
  EXPECT_TRUE(std::is_sorted(d.labels.begin(), d.labels.end(),
                             [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; }));
  int positives = 0;
  for (const DemoData::Label& l : d.labels) {
    std::string next = NextStartCategory(d.events, l.user_id, l.ts_ms);
    ASSERT_FALSE(next.empty()) << l.user_id << " " << l.ts_ms;
    EXPECT_EQ(l.label, next == "sleep" ? 1 : 0) << l.user_id << " " << l.ts_ms;
    positives += l.label;
  }
  // Both classes are well represented, so a classifier has something to learn.
  EXPECT_GT(positives, o.labels / 10);
  EXPECT_LT(positives, o.labels * 9 / 10);
}

// The category of `user`'s latest start in [ts_ms - 10 min, ts_ms); "" if none.
std::string RecentStartCategory(const std::vector<DemoEvent>& events, const std::string& user,
                                int64_t ts_ms) {
  std::string category;
  for (const DemoEvent& e : events) {
    if (e.ts_ms >= ts_ms) break;
    if (e.user_id == user && e.event == "start" && e.ts_ms >= ts_ms - 10 * 60 * 1000) {
      category = e.category;
    }
  }
  return category;
}

// The signal the example's model learns: a recent sleep start makes the next one likelier.
TEST(DemoDataTest, RecentSleepStartsPredictTheLabel) {
  DemoDataOptions o = SmallOptions();
  o.users = 200;
  o.labels = 2000;
  DemoData d = GenerateDemoData(o);
  int after_sleep = 0, after_sleep_positive = 0, after_other = 0, after_other_positive = 0;
  for (const DemoData::Label& l : d.labels) {
    std::string recent = RecentStartCategory(d.events, l.user_id, l.ts_ms);
    if (recent.empty()) continue;
    bool sleep = recent == "sleep";
    (sleep ? after_sleep : after_other)++;
    (sleep ? after_sleep_positive : after_other_positive) += l.label;
  }
  ASSERT_GT(after_sleep, 20);
  ASSERT_GT(after_other, 20);
  double rate_after_sleep = static_cast<double>(after_sleep_positive) / after_sleep;
  double rate_after_other = static_cast<double>(after_other_positive) / after_other;
  EXPECT_GT(rate_after_sleep, 0.4);
  EXPECT_GT(rate_after_sleep, 3 * rate_after_other);
}

TEST(DemoDataTest, LiveSessionIsAShortScriptedSleepSession) {
  const int64_t t0 = 1'767'225'600'000;
  std::vector<DemoEvent> s = LiveSession("u_live", t0, 1);
  ASSERT_FALSE(s.empty());
  EXPECT_TRUE(SameEvents(s, LiveSession("u_live", t0, 1)));
  EXPECT_FALSE(SameEvents(s, LiveSession("u_live", t0, 2)));
  int sleep_starts = 0, sleep_exits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].user_id, "u_live");
    EXPECT_GE(s[i].ts_ms, t0);
    EXPECT_LT(s[i].ts_ms, t0 + 9 * 60 * 1000);
    if (i > 0) {
      EXPECT_GT(s[i].ts_ms, s[i - 1].ts_ms);
    }
    if (s[i].category != "sleep") continue;
    sleep_starts += s[i].event == "start";
    sleep_exits += s[i].event == "exit";
  }
  EXPECT_GE(sleep_starts, 2);
  EXPECT_GE(sleep_exits, 1);
  EXPECT_EQ(s.back().event, "complete");
  EXPECT_EQ(s.back().category, "sleep");
}

TEST(DemoDataTest, NdjsonLineHasEveryFieldAndEscapesStrings) {
  DemoEvent e{"u\"7", 1'767'225'600'123, "exit", "sleep", 42.5};
  EXPECT_EQ(ToNdjson(e),
            R"({"user_id":"u\"7","ts_ms":1767225600123,"event":"exit","category":"sleep",)"
            R"("duration_s":42.5})");
  std::vector<DemoEvent> two = {e, e};
  EXPECT_EQ(ToNdjson(two), ToNdjson(e) + "\n" + ToNdjson(e) + "\n");
}

TEST(DemoDataTest, WritesEventsAndLabelsFiles) {
  TempDir dir;
  DemoData d;
  d.events = {{"u1", 1000, "start", "focus", 0}, {"u1", 61000, "exit", "focus", 60}};
  d.labels = {{"u1", 500, 0}, {"u2", 900, 1}};
  ASSERT_TRUE(WriteEventsNdjson(d, dir.File("events.ndjson")).ok());
  ASSERT_TRUE(WriteLabelsCsv(d, dir.File("labels.csv")).ok());
  EXPECT_EQ(ReadFile(dir.File("events.ndjson")), ToNdjson(d.events));
  EXPECT_EQ(ReadFile(dir.File("labels.csv")), "user_id,ts_ms,label\nu1,500,0\nu2,900,1\n");
}

TEST(DemoDataTest, WritingToAMissingDirectoryIsAnIoError) {
  TempDir dir;
  DemoData d;
  Status st = WriteLabelsCsv(d, dir.File("no/such/dir/labels.csv"));
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("no/such/dir/labels.csv"), std::string::npos);
}

}  // namespace
}  // namespace freshet

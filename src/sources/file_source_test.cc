// FileSource over real NDJSON and CSV files.
#include "sources/file_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "spec/spec_loader.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_file_source_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "events");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::app) << text;
  }
  // A project whose source `ev` is `kind: file` with `path`, relative to the project.
  void Load(const std::string& path, const std::string& format = "") {
    std::string yaml =
        "project: t\n"
        "entities:\n  user: {key: user_id}\n"
        "sources:\n  ev:\n    kind: file\n    timestamp: ts\n"
        "    fields: {user_id: string, amount: double}\n"
        "    path: " +
        path + "\n" + (format.empty() ? "" : "    format: " + format + "\n") +
        "feature_views:\n  v:\n    entity: user\n    source: ev\n"
        "    features: {n: {agg: count}}\n";
    auto spec = ParseProject(yaml, (dir_ / "freshet.yaml").string());
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
  }
  static std::string Line(const std::string& user, int64_t ts) {
    return "{\"user_id\":\"" + user + "\",\"amount\":1.5,\"ts\":" + std::to_string(ts) + "}\n";
  }
  // Every record from the read position on, in batches of `max`, as "user@ts" strings.
  static std::vector<std::string> ReadAll(Source* source, size_t max,
                                          std::vector<uint64_t>* first_offsets = nullptr) {
    std::vector<std::string> out;
    SourceBatch batch;
    while (true) {
      auto more = source->Read(max, &batch);
      EXPECT_TRUE(more.ok()) << more.status().ToString();
      if (!more.ok() || !*more) break;
      EXPECT_LE(batch.records.size(), max);
      EXPECT_EQ(batch.next_offset, batch.first_offset + batch.records.size());
      if (first_offsets) first_offsets->push_back(batch.first_offset);
      for (const Record& r : batch.records) {
        out.push_back(r.values[0].as_string() + "@" + std::to_string(r.ts_ms));
      }
    }
    return out;
  }

  fs::path dir_;
  ProjectSpec spec_;
};

TEST_F(FileSourceTest, GlobReadsMatchedFilesInNameOrderWithOffsets) {
  Write("events/2026-01-02.ndjson", Line("c", 3) + Line("d", 4) + Line("e", 5));
  Write("events/2026-01-01.ndjson", Line("a", 1) + "\n" + Line("b", 2));
  Write("events/notes.txt", "not events\n");
  Load("events/*.ndjson");
  FileSource source(spec_, "ev", 1);
  auto files = source.MatchFiles();
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_THAT((*files)[0], HasSubstr("2026-01-01.ndjson"));

  std::vector<uint64_t> firsts;
  EXPECT_EQ(ReadAll(&source, 2, &firsts),
            (std::vector<std::string>{"a@1", "b@2", "c@3", "d@4", "e@5"}));
  EXPECT_EQ(firsts, (std::vector<uint64_t>{0, 2, 4}));
  auto end = source.EndPosition();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, (SourcePosition{{0, 5}}));
}

TEST_F(FileSourceTest, SeekSkipsRecordsAndPicksUpAppendedOnes) {
  Write("events.ndjson", Line("a", 1) + Line("b", 2) + Line("c", 3));
  Load("events.ndjson");
  FileSource source(spec_, "ev");
  ASSERT_TRUE(source.Seek({{0, 2}}).ok());
  std::vector<uint64_t> firsts;
  EXPECT_EQ(ReadAll(&source, 100, &firsts), std::vector<std::string>{"c@3"});
  EXPECT_EQ(firsts, std::vector<uint64_t>{2});
  // A restart after more lines were appended resumes where it stopped.
  Write("events.ndjson", Line("d", 4));
  FileSource restarted(spec_, "ev");
  ASSERT_TRUE(restarted.Seek({{0, 3}}).ok());
  EXPECT_EQ(ReadAll(&restarted, 100), std::vector<std::string>{"d@4"});
  // A position past the end reads nothing.
  ASSERT_TRUE(restarted.Seek({{0, 50}}).ok());
  EXPECT_TRUE(ReadAll(&restarted, 100).empty());
}

TEST_F(FileSourceTest, CsvTypedBySchema) {
  Write("events.csv", "ts,user_id,amount\n10,u1,2.5\n20,\"u,2\",\n");
  Load("events.csv");
  FileSource source(spec_, "ev");
  SourceBatch batch;
  auto more = source.Read(10, &batch);
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].values[1].as_double(), 2.5);
  EXPECT_EQ(batch.records[1].values[0].as_string(), "u,2");
  EXPECT_TRUE(batch.records[1].values[1].is_null());
  EXPECT_EQ(batch.records[1].ts_ms, 20);
}

TEST_F(FileSourceTest, BadRecordNamesFileAndLine) {
  Write("events.ndjson", Line("a", 1) + "{\"user_id\":\"b\",\"amount\":\"lots\",\"ts\":2}\n");
  Load("events.ndjson");
  FileSource source(spec_, "ev");
  SourceBatch batch;
  auto more = source.Read(10, &batch);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(more.status().message(), HasSubstr("events.ndjson:2:"));
  EXPECT_THAT(more.status().message(), HasSubstr("amount"));
}

TEST_F(FileSourceTest, MissingFileIsAnErrorButAnEmptyGlobIsNot) {
  Load("missing.ndjson");
  FileSource missing(spec_, "ev");
  SourceBatch batch;
  auto more = missing.Read(10, &batch);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().code(), StatusCode::kIoError);
  EXPECT_THAT(more.status().message(), HasSubstr("missing.ndjson"));

  Load("events/*.ndjson");
  FileSource empty(spec_, "ev");
  more = empty.Read(10, &batch);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

}  // namespace
}  // namespace freshet

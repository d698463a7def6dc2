// FileSink on real files.
#include "sinks/file_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_file_sink_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    path_ = (dir_ / "out" / "preds.ndjson").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Lines() const {
    std::ifstream in(path_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  static PredictionRecord Prediction(int i) {
    return {"p" + std::to_string(i), "recommend", 1000 + i,
            "{\"score\":" + std::to_string(i) + "}"};
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(FileSinkTest, AppendsOneLinePerRecordAcrossBatchesAndReopens) {
  {
    auto sink = FileSink::Open(path_);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    ASSERT_TRUE((*sink)->Deliver({Prediction(1), Prediction(2)}).ok());
    ASSERT_TRUE((*sink)->Deliver({}).ok());
  }
  auto sink = FileSink::Open(path_);  // appends, never truncates whole lines
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Deliver({Prediction(3)}).ok());
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 0; i < lines.size(); ++i) {
    rapidjson::Document doc;
    doc.Parse(lines[i].c_str());
    ASSERT_FALSE(doc.HasParseError()) << lines[i];
    EXPECT_EQ(doc["id"].GetString(), "p" + std::to_string(i + 1));
    EXPECT_STREQ(doc["deployment"].GetString(), "recommend");
    EXPECT_EQ(doc["ts_ms"].GetInt64(), static_cast<int64_t>(1001 + i));
    EXPECT_EQ(doc["prediction"]["score"].GetInt(), static_cast<int>(i + 1));
  }
}

TEST_F(FileSinkTest, OpenCutsATornLastLine) {
  fs::create_directories(fs::path(path_).parent_path());
  std::ofstream(path_) << "{\"id\":\"p1\"}\n{\"id\":\"p2\",\"depl";  // a crash mid-batch
  auto sink = FileSink::Open(path_);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Deliver({Prediction(2)}).ok());  // the redelivered batch
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"id\":\"p1\"}");
  EXPECT_THAT(lines[1], HasSubstr("\"id\":\"p2\",\"deployment\":\"recommend\""));
}

TEST_F(FileSinkTest, TornFileWithoutAnyNewlineIsEmptied) {
  fs::create_directories(fs::path(path_).parent_path());
  std::ofstream(path_) << std::string(10'000, 'x');  // spans several read blocks
  auto sink = FileSink::Open(path_);
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(fs::file_size(path_), 0u);
}

TEST_F(FileSinkTest, ConcurrentDeliveriesKeepLinesWhole) {
  auto sink = FileSink::Open(path_);
  ASSERT_TRUE(sink.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < 10; ++b) {
        std::vector<PredictionRecord> batch;
        for (int i = 0; i < 20; ++i) batch.push_back(Prediction(t * 1000 + b * 20 + i));
        EXPECT_TRUE((*sink)->Deliver(batch).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 800u);
  for (const std::string& line : lines) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    EXPECT_FALSE(doc.HasParseError()) << line;
  }
}

TEST_F(FileSinkTest, UnwritablePathIsAnIoErrorNamingIt) {
  fs::create_directories(path_);  // a directory where the file should be
  auto sink = FileSink::Open(path_);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), StatusCode::kIoError);
  EXPECT_THAT(sink.status().message(), HasSubstr(path_));
}

}  // namespace
}  // namespace freshet

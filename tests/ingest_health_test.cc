// Ingest when the disk fills up: a real server on 127.0.0.1 over a real Instance whose data
// directory is a small tmpfs, filled to the last byte by a file and emptied again. Mounting
// needs root; the test skips without it.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/api.h"
#include "cli/http_client.h"
#include "instance/instance.h"
#include "server/http_server.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSpec = R"(project: health
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, page: string}
    allowed_lateness: 1h
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      clicks: {agg: count}
)";

constexpr int64_t kT = 1'767'225'600'000;

// `n` clicks of user u, as NDJSON, with a fat page field so that a batch needs fresh pages of
// the file system.
std::string Batch(int n) {
  std::string body;
  for (int i = 0; i < n; ++i) {
    body +=
        fmt::format(R"({{"user_id":"u","ts_ms":{},"page":"{}"}})", kT + i, std::string(200, 'p')) +
        "\n";
  }
  return body;
}

// Writes `path` until the file system has `leave` bytes left, or with `leave` 0 none at all;
// false if it could not.
bool FillUp(const fs::path& path, uint64_t leave = 0) {
  struct statvfs stats;
  if (::statvfs(path.parent_path().c_str(), &stats) != 0) return false;
  uint64_t free_bytes = uint64_t{stats.f_bavail} * stats.f_frsize;
  if (free_bytes < leave) return false;
  uint64_t target = leave == 0 ? UINT64_MAX : free_bytes - leave;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return false;
  std::setvbuf(file, nullptr, _IONBF, 0);
  std::string chunk(64 << 10, 'f');
  uint64_t written = 0;
  size_t piece = chunk.size();
  // Down to single bytes, so that not even a page's tail is left.
  while (piece > 0 && written < target) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(piece, target - written));
    size_t wrote = std::fwrite(chunk.data(), 1, want, file);
    written += wrote;
    if (wrote != want) {
      std::clearerr(file);
      piece /= 2;
    }
  }
  bool done = leave == 0 ? errno == ENOSPC : written >= target;
  std::fclose(file);
  return done;
}

// The value of the series `name` in a Prometheus text rendering; -1 when absent.
double Counter(const std::string& metrics, const std::string& name) {
  size_t at = metrics.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + name.size() + 2));
}

class IngestHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("freshet_health_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "project");
    fs::create_directories(root_ / "disk");
    std::ofstream(root_ / "project" / "freshet.yaml") << kSpec;
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs for a full disk needs root";
    // RocksDB resumes writes by itself once the disk has room for a memtable flush again
    // (128 MiB with Db's options), so the disk is larger than that; the filler takes it all.
    if (::mount("tmpfs", (root_ / "disk").c_str(), "tmpfs", 0, "size=160m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
  }

  void TearDown() override {
    server_.reset();
    instance_.reset();
    if (mounted_) ::umount2((root_ / "disk").c_str(), MNT_DETACH);
    fs::remove_all(root_);
  }

  void Open() {
    InstanceOptions options;
    options.project_dir = (root_ / "project").string();
    options.data_dir = (root_ / "disk" / "data").string();
    options.checkpoint_interval_ms = 200;
    options.health_retry_interval_ms = 50;
    options.log.sync = true;
    auto instance = Instance::Open(options);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    instance_ = std::move(instance).value();
    router_ = std::make_unique<Router>();
    ASSERT_TRUE(RegisterApi(router_.get(), instance_.get()).ok());
    HttpServerOptions server_options;
    server_options.listen_address = "127.0.0.1:0";
    server_options.threads = 2;
    server_options.metrics = instance_->metrics();
    server_ = std::make_unique<HttpServer>(server_options, router_.get());
    ASSERT_TRUE(server_->Start().ok());
    url_ = fmt::format("http://127.0.0.1:{}", server_->port());
  }

  void Close() {
    server_.reset();
    router_.reset();
    instance_.reset();  // final checkpoint
  }

  cli::HttpReply Call(const std::string& method, const std::string& target,
                      const std::string& body = "") {
    auto reply = cli::HttpCall(url_, method, target, body);
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    return reply.ok() ? *reply : cli::HttpReply{};
  }

  // Waits (bounded) for /readyz to answer `status`.
  bool WaitForReady(int status) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (Call("GET", "/readyz").status != status) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  fs::path root_;
  bool mounted_ = false;
  std::unique_ptr<Instance> instance_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
  std::string url_;
};

TEST_F(IngestHealthTest, FullDiskStopsIngestUntilSpaceIsBackAndLosesNothingAcknowledged) {
  // Most of the disk is taken before RocksDB opens, or its preallocated log file would hold
  // the space the test means to run out of.
  ASSERT_TRUE(FillUp(root_ / "disk" / "ballast", 4 << 20));
  Open();
  const int kBatch = 100;
  uint64_t acknowledged = 0;
  for (int i = 0; i < 5; ++i) {
    cli::HttpReply r = Call("POST", "/v1/events/clicks", Batch(kBatch));
    ASSERT_EQ(r.status, 200) << r.body;
    acknowledged += kBatch;
  }
  EXPECT_EQ(Call("GET", "/readyz").status, 200);

  ASSERT_TRUE(FillUp(root_ / "disk" / "filler"));
  // The next batches find no room: each is refused with a 5xx until ingest stops; none of
  // them is acknowledged.
  cli::HttpReply refused;
  for (int i = 0; i < 50 && refused.status == 0; ++i) {
    cli::HttpReply r = Call("POST", "/v1/events/clicks", Batch(kBatch));
    if (r.status == 200) {
      acknowledged += kBatch;  // it still fit in a page the log had
    } else {
      refused = r;
    }
  }
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find(R"({"error":{"code":"unavailable","message":"ingest stopped: )"),
            std::string::npos)
      << refused.body;
  ASSERT_TRUE(WaitForReady(503));
  cli::HttpReply ready = Call("GET", "/readyz");
  EXPECT_NE(ready.body.find("ingest stopped: "), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("No space left on device"), std::string::npos) << ready.body;
  cli::HttpReply stopped = Call("POST", "/v1/events/clicks", Batch(1));
  EXPECT_EQ(stopped.status, 503) << stopped.body;
  EXPECT_EQ(stopped.body.substr(0, 60), refused.body.substr(0, 60)) << "the first cause is kept";
  std::string metrics = Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("freshet_ingest_degraded 1\n"), std::string::npos) << metrics;
  // The first failure is the batch's log write or a checkpoint, whichever came first.
  EXPECT_GE(Counter(metrics, R"(freshet_ingest_failures_total{kind="commit"})") +
                Counter(metrics, R"(freshet_ingest_failures_total{kind="checkpoint"})"),
            1)
      << metrics;
  // Reads keep working meanwhile.
  cli::HttpReply features = Call(
      "POST", "/v1/features", R"({"features":["activity:clicks"],"entities":{"user_id":["u"]}})");
  EXPECT_EQ(features.status, 200) << features.body;

  // Space is back: a retry succeeds by itself and ingest resumes.
  fs::remove(root_ / "disk" / "filler");
  fs::remove(root_ / "disk" / "ballast");
  ASSERT_TRUE(WaitForReady(200));
  cli::HttpReply resumed = Call("POST", "/v1/events/clicks", Batch(kBatch));
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  acknowledged += kBatch;
  metrics = Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("freshet_ingest_degraded 0\n"), std::string::npos) << metrics;

  // Every acknowledged event is there after a restart, in the log and in the features.
  Close();
  Open();
  EXPECT_EQ(*instance_->log()->NextOffset("clicks"), acknowledged);
  features = Call("POST", "/v1/features",
                  R"({"features":["activity:clicks"],"entities":{"user_id":["u"]}})");
  EXPECT_NE(features.body.find(fmt::format("\"values\":[{}]", acknowledged)), std::string::npos)
      << features.body;
}

}  // namespace
}  // namespace freshet

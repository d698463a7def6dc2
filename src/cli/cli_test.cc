// The `freshet` binary as a user runs it: exit codes (0 ok, 1 failure, 2 bad input or usage),
// what goes to stdout and stderr, and the --json documents of apply, ingest and models.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "api/api.h"
#include "cli/cli_test_util.h"
#include "instance/instance.h"
#include "models/models_test_util.h"
#include "server/http_server.h"

namespace freshet {
namespace {

using cli::HasIpv6Loopback;

constexpr const char* kSpec = R"yaml(project: cli_test
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, ts_ms: int64, amount: double}
  users: {kind: table, entity: user, timestamp: updated_at, fields: {user_id: string, plan: string}}
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      clicks_10m: {agg: count, window: 10m}
      amount_1h: {agg: sum, of: amount, window: 1h}
  profile: {entity: user, source: users, features: {plan: {attr: plan}}}
feature_services:
  scoring: [activity:clicks_10m, activity:amount_1h]
models:
  ranker: {runtime: linear}
deployments:
  rank: {model: ranker, features: scoring}
)yaml";

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.File("good"));
    std::ofstream(dir_.File("good/freshet.yaml")) << kSpec;
  }

  // Runs `freshet ARGS` in a shell; stdout and stderr are captured separately.
  Outcome Freshet(const std::string& args) {
    const std::string err_path = dir_.File("stderr.txt");
    const std::string command = std::string(FRESHET_BIN) + " " + args + " 2>" + err_path;
    Outcome run;
    FILE* pipe = ::popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    if (pipe == nullptr) return run;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) run.out.append(buf, n);
    int status = ::pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err_path);
    run.err.assign(std::istreambuf_iterator<char>(in), {});
    return run;
  }

  // `--project good --data DIR` for commands that open the project.
  std::string Project() const {
    return "--project " + dir_.File("good") + " --data " + dir_.File("data");
  }

  std::string LinearModel() const {
    const std::string path = dir_.File("ranker.json");
    std::ofstream(path) << R"({"weights":[1,2],"bias":0.5})";
    return path;
  }

  testing::ScopedTempDir dir_{"cli_test"};
  simdjson::dom::parser parser_;
};

TEST_F(CliTest, ApplyAGoodProjectPrintsThePlan) {
  Outcome run = Freshet("apply --project " + dir_.File("good"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("activity"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("rank"), std::string::npos) << run.out;
  EXPECT_EQ(run.err, "");
}

TEST_F(CliTest, ApplyJsonIsOneJsonDocument) {
  Outcome run = Freshet("apply --json --project " + dir_.File("good"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(run.out).get(doc)) << run.out;
  EXPECT_EQ(std::string_view(doc["project"]), "cli_test");
}

TEST_F(CliTest, ApplyABadProjectExits2NamingFileLineAndField) {
  std::filesystem::create_directories(dir_.File("bad"));
  std::string spec = kSpec;
  spec.replace(spec.find("agg: sum"), 8, "agg: summ");
  std::ofstream(dir_.File("bad/freshet.yaml")) << spec;
  Outcome run = Freshet("apply --project " + dir_.File("bad"));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("freshet.yaml:"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("summ"), std::string::npos) << run.err;
}

TEST_F(CliTest, ApplyWithoutAProjectExits2) {
  Outcome run = Freshet("apply --project " + dir_.File("nowhere"));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("freshet.yaml"), std::string::npos) << run.err;
}

// Bug: usage errors exited with CLI11's own codes (106 missing option, 109 extra arguments,
// 105 a bad value) where the README promises 2 for bad input.
TEST_F(CliTest, UsageErrorsExit2) {
  for (const char* args : {"apply --no-such-flag", "", "nonsense", "ingest --project x",
                           "events late --source clicks --limit many", "models"}) {
    Outcome run = Freshet(args);
    EXPECT_EQ(run.exit_code, 2) << "freshet " << args << "\n" << run.err;
    EXPECT_NE(run.err, "") << "freshet " << args;
  }
}

TEST_F(CliTest, HelpAndVersionExit0) {
  Outcome help = Freshet("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("apply"), std::string::npos);
  Outcome sub = Freshet("models register --help");
  EXPECT_EQ(sub.exit_code, 0);
  EXPECT_NE(sub.out.find("--metric"), std::string::npos);
  EXPECT_EQ(Freshet("--version").exit_code, 0);
}

TEST_F(CliTest, ModelsListJsonIsTheApisDocument) {
  Outcome empty = Freshet("models list --json " + Project());
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "{\"models\":[]}\n");

  Outcome reg =
      Freshet("models register ranker " + LinearModel() + " --metric auc=0.75 " + Project());
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  EXPECT_NE(reg.out.find("registered ranker v1"), std::string::npos) << reg.out;

  Outcome list = Freshet("models list --json " + Project());
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find(dir_.File("data")), std::string::npos) << list.out;  // no paths
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(list.out).get(doc)) << list.out;
  simdjson::dom::element model = doc["models"].at(0);
  EXPECT_EQ(std::string_view(model["name"]), "ranker");
  EXPECT_EQ(int64_t(model["latest_version"]), 1);
  EXPECT_EQ(int64_t(model["aliases"]["champion"]), 1);
  EXPECT_EQ(std::string_view(model["latest"]["runtime"]), "linear");
  EXPECT_DOUBLE_EQ(double(model["latest"]["metrics"]["auc"]), 0.75);
  simdjson::dom::element ignored;
  EXPECT_TRUE(model["latest"]["format"].get(ignored)) << "no storage format field";
  EXPECT_TRUE(model["latest"]["artifact"].get(ignored)) << "no artifact path";

  Outcome text = Freshet("models list " + Project());
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("champion=v1"), std::string::npos) << text.out;
}

TEST_F(CliTest, ModelsShowJsonAndErrors) {
  ASSERT_EQ(Freshet("models register ranker " + LinearModel() + " " + Project()).exit_code, 0);
  Outcome show = Freshet("models show ranker 1 --json " + Project());
  ASSERT_EQ(show.exit_code, 0) << show.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(show.out).get(doc)) << show.out;
  EXPECT_EQ(int64_t(doc["version"]), 1);
  EXPECT_EQ(std::string_view(doc["aliases"].at(0)), "champion");
  EXPECT_EQ(int64_t(doc["num_features"]), 2);
  Outcome model = Freshet("models show ranker --json " + Project());
  ASSERT_EQ(model.exit_code, 0) << model.err;
  ASSERT_FALSE(parser_.parse(model.out).get(doc)) << model.out;
  EXPECT_EQ(int64_t(doc["latest_version"]), 1);
  EXPECT_EQ(int64_t(doc["versions"].at(0)), 1);
  EXPECT_EQ(std::string_view(doc["alias_history"].at(0)["alias"]), "champion");

  Outcome missing = Freshet("models show nope " + Project());
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.err;
  Outcome bad_metric =
      Freshet("models register ranker " + LinearModel() + " --metric auc " + Project());
  EXPECT_EQ(bad_metric.exit_code, 2);
  EXPECT_NE(bad_metric.err.find("--metric 'auc'"), std::string::npos) << bad_metric.err;
}

TEST_F(CliTest, BadMetricIsRefusedBeforeTheDataDirectoryIsTouched) {
  const std::string data = dir_.File("untouched");
  Outcome run = Freshet("models register ranker " + LinearModel() +
                        " --metric auc=0.7x --project " + dir_.File("good") + " --data " + data);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("--metric 'auc=0.7x': '0.7x' is not a number"), std::string::npos)
      << run.err;
  EXPECT_FALSE(std::filesystem::exists(data));
}

TEST_F(CliTest, IngestJsonEscapesTheFileNameAndFeaturesReadTheEvents) {
  const std::string file = dir_.File("we\"ird.ndjson");
  std::ofstream(file) << R"({"user_id":"u1","ts_ms":1767225540000,"amount":2.5})"
                      << "\n"
                      << R"({"user_id":"u1","ts_ms":1767225570000,"amount":1.5})"
                      << "\n";
  Outcome ingest = Freshet("ingest --json --source clicks '" + file + "' " + Project());
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(ingest.out).get(doc)) << ingest.out;
  EXPECT_EQ(std::string_view(doc["file"]), file);
  EXPECT_EQ(int64_t(doc["accepted"]), 2);
  EXPECT_EQ(int64_t(doc["first_offset"]), 0);
  EXPECT_FALSE(bool(doc["duplicate"]));

  Outcome features = Freshet(
      "features get --json --service scoring --entity user_id=u1,u2 "
      "--as-of 2026-01-01T00:00:00Z " +
      Project());
  ASSERT_EQ(features.exit_code, 0) << features.err;
  ASSERT_FALSE(parser_.parse(features.out).get(doc)) << features.out;
  EXPECT_EQ(int64_t(doc["rows"].at(0)["values"].at(0)), 2);
  EXPECT_DOUBLE_EQ(double(doc["rows"].at(0)["values"].at(1)), 4.0);
  EXPECT_EQ(std::string_view(doc["rows"].at(1)["statuses"].at(0)), "NOT_FOUND");
}

TEST_F(CliTest, IngestOfABadRecordExits2AndNamesTheField) {
  const std::string file = dir_.File("bad.ndjson");
  std::ofstream(file) << R"({"user_id":"u1","ts_ms":1767225540000,"amount":"lots"})"
                      << "\n";
  Outcome run = Freshet("ingest --source clicks " + file + " " + Project());
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("amount"), std::string::npos) << run.err;
}

TEST_F(CliTest, FeaturesWithoutFeaturesOrServiceExits2) {
  Outcome run = Freshet("features get --entity user_id=u1 " + Project());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("give either --features or --service"), std::string::npos) << run.err;
  Outcome bad_entity = Freshet("features get --service scoring --entity u1 " + Project());
  EXPECT_EQ(bad_entity.exit_code, 2);
  EXPECT_NE(bad_entity.err.find("--entity 'u1'"), std::string::npos) << bad_entity.err;
}

// ingest and features get with --server, against the API served from this process (which
// holds the data directory, as `freshet serve` would), over IPv4 and IPv6.
TEST_F(CliTest, IngestAndFeaturesThroughAServer) {
  InstanceOptions options;
  options.project_dir = dir_.File("good");
  options.data_dir = dir_.File("data");
  auto instance = Instance::Open(options);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Router router;
  ASSERT_TRUE(RegisterApi(&router, instance->get()).ok());
  std::vector<std::pair<std::string, std::string>> listens = {{"127.0.0.1:0", "127.0.0.1"}};
  if (HasIpv6Loopback()) listens.push_back({"[::1]:0", "[::1]"});
  const std::string file = dir_.File("events.ndjson");
  std::ofstream(file) << R"({"user_id":"u1","ts_ms":1767225540000,"amount":2.5})"
                      << "\n";
  uint64_t expected_offset = 0;
  for (const auto& [listen, host] : listens) {
    HttpServerOptions server_options;
    server_options.listen_address = listen;
    server_options.threads = 1;
    HttpServer server(server_options, &router);
    ASSERT_TRUE(server.Start().ok()) << listen;
    const std::string url = "http://" + host + ":" + std::to_string(server.port());

    Outcome ingest = Freshet("ingest --source clicks " + file + " --project " + dir_.File("good") +
                             " --server " + url);
    ASSERT_EQ(ingest.exit_code, 0) << url << ": " << ingest.err;
    EXPECT_EQ(ingest.out, R"({"accepted":1,"first_offset":)" + std::to_string(expected_offset++) +
                              R"(,"duplicate":false})" + "\n");

    Outcome features = Freshet(
        "features get --service scoring --entity user_id=u1 --as-of 2026-01-01T00:00:00Z "
        "--project " +
        dir_.File("good") + " --server " + url);
    ASSERT_EQ(features.exit_code, 0) << url << ": " << features.err;
    simdjson::dom::element doc;
    ASSERT_FALSE(parser_.parse(features.out).get(doc)) << features.out;
    EXPECT_EQ(int64_t(doc["rows"].at(0)["values"].at(0)), int64_t(expected_offset)) << url;

    Outcome bad = Freshet("features get --service nope --entity user_id=u1 --project " +
                          dir_.File("good") + " --server " + url);
    EXPECT_EQ(bad.exit_code, 2) << bad.err;
    EXPECT_NE(bad.err.find("server answered 404: unknown feature service 'nope'"),
              std::string::npos)
        << bad.err;
    server.Stop();
  }
}

TEST_F(CliTest, LoadUpsertsAndDeletesTableRowsAndABadRowLoadsNothing) {
  const std::string csv = dir_.File("users.csv");
  std::ofstream(csv) << "user_id,plan,updated_at\nu1,free,1000\nu2,pro,2000\n";
  Outcome load = Freshet("load users " + csv + " --json " + Project());
  ASSERT_EQ(load.exit_code, 0) << load.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(load.out).get(doc)) << load.out;
  EXPECT_EQ(int64_t(doc["upserted"]), 2);

  const std::string bad = dir_.File("bad.ndjson");
  std::ofstream(bad) << R"({"user_id":"u3","plan":"team","updated_at":3000})"
                     << "\n"
                     << R"({"user_id":"u1","plan":"team","updated_at":"soon"})"
                     << "\n";
  Outcome rejected = Freshet("load users " + bad + " " + Project());
  EXPECT_EQ(rejected.exit_code, 2);
  EXPECT_NE(rejected.err.find("line 2: field 'updated_at'"), std::string::npos) << rejected.err;

  const std::string gone = dir_.File("gone.ndjson");
  std::ofstream(gone) << R"({"user_id":"u2","updated_at":5000})"
                      << "\n";
  Outcome deleted = Freshet("load users --delete " + gone + " " + Project());
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(deleted.out.find("deleted 1 rows of 'users'"), std::string::npos) << deleted.out;

  Outcome features = Freshet(
      "features get --json --features profile:plan "
      "--entity user_id=u1,u2,u3 " +
      Project());
  ASSERT_EQ(features.exit_code, 0) << features.err;
  ASSERT_FALSE(parser_.parse(features.out).get(doc)) << features.out;
  EXPECT_EQ(std::string_view(doc["rows"].at(0)["values"].at(0)), "free") << features.out;
  EXPECT_EQ(std::string_view(doc["rows"].at(1)["statuses"].at(0)), "NOT_FOUND") << features.out;
  EXPECT_EQ(std::string_view(doc["rows"].at(2)["statuses"].at(0)), "NOT_FOUND") << features.out;

  Outcome stream = Freshet("load clicks " + csv + " " + Project());
  EXPECT_EQ(stream.exit_code, 2);
  EXPECT_NE(stream.err.find("source 'clicks' is kind http, not table"), std::string::npos)
      << stream.err;
}

TEST_F(CliTest, LoadThroughAServer) {
  InstanceOptions options;
  options.project_dir = dir_.File("good");
  options.data_dir = dir_.File("data");
  auto instance = Instance::Open(options);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Router router;
  ASSERT_TRUE(RegisterApi(&router, instance->get()).ok());
  HttpServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.threads = 1;
  HttpServer server(server_options, &router);
  ASSERT_TRUE(server.Start().ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string csv = dir_.File("users.csv");
  std::ofstream(csv) << "user_id,plan,updated_at\nu1,free,1000\n";
  Outcome load =
      Freshet("load users " + csv + " --project " + dir_.File("good") + " --server " + url);
  ASSERT_EQ(load.exit_code, 0) << load.err;
  EXPECT_EQ(load.out, R"({"source":"users","upserted":1})"
                      "\n");
  Outcome unknown =
      Freshet("load nope " + csv + " --project " + dir_.File("good") + " --server " + url);
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("server answered 404: unknown source 'nope'"), std::string::npos)
      << unknown.err;
  server.Stop();
  auto row = (*instance)->tables()->ReadLatest("users", "u1");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->values[1].as_string(), "free");
}

TEST_F(CliTest, UnreachableServerExits1NamingTheUrl) {
  // Port 1 on loopback: nothing listens there (and binding it needs root).
  Outcome run = Freshet(
      "features get --service scoring --entity user_id=u1 --server "
      "http://127.0.0.1:1 " +
      Project());
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("cannot reach http://127.0.0.1:1/v1/features: Connection refused"),
            std::string::npos)
      << run.err;
}

// The project with a second service reading the same features in the other order, served by
// `rank_next` through the `challenger` alias.
class ModelsCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    WriteSpec("rank_next: {model: ranker, features: reversed, alias: challenger}");
    testing::WriteFile(dir_.File("holdout.csv"), "label\n1\n0\n");
    testing::WriteFile(dir_.File("train.csv"), "label\n1\n1\n0\n");
  }

  void WriteSpec(const std::string& rank_next) {
    std::string spec = kSpec;
    const std::string service = "  scoring: [activity:clicks_10m, activity:amount_1h]\n";
    spec.replace(spec.find(service), service.size(),
                 service + "  reversed: [activity:amount_1h, activity:clicks_10m]\n");
    spec += "  " + rank_next + "\n";
    testing::WriteFile(dir_.File("good/freshet.yaml"), spec);
  }

  // Registers the 2-feature linear model reading `service`, evaluated to `auc` on holdout.csv.
  Outcome Register(const std::string& service, const std::string& auc) {
    return Freshet("models register ranker " + LinearModel() + " --feature-service " + service +
                   " --metric auc=" + auc + " --holdout " + dir_.File("holdout.csv") +
                   " --training-data " + dir_.File("train.csv") + " --param eta=0.1 --by alice " +
                   Project());
  }

  simdjson::dom::element Parse(const Outcome& run) {
    simdjson::dom::element doc;
    EXPECT_FALSE(parser_.parse(run.out).get(doc)) << run.out;
    return doc;
  }
};

TEST_F(ModelsCliTest, RegisterRecordsLineageAndSignature) {
  Outcome reg = Register("scoring", "0.7");
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  EXPECT_NE(reg.out.find("input 2: activity:amount_1h double"), std::string::npos) << reg.out;
  Outcome show = Freshet("models show ranker champion --json " + Project());
  ASSERT_EQ(show.exit_code, 0) << show.err;
  simdjson::dom::element v = Parse(show);
  simdjson::dom::element lineage = v["lineage"];
  EXPECT_EQ(std::string_view(lineage["training_data"]), dir_.File("train.csv"));
  EXPECT_EQ(std::string_view(lineage["training_data_sha256"]).size(), 64u);
  EXPECT_EQ(std::string_view(lineage["holdout"]), dir_.File("holdout.csv"));
  EXPECT_EQ(std::string_view(lineage["feature_service"]), "scoring");
  EXPECT_EQ(std::string_view(lineage["feature_spec_hash"]).size(), 64u);
  EXPECT_EQ(std::string_view(lineage["created_by"]), "alice");
  EXPECT_EQ(std::string_view(v["params"]["eta"]), "0.1");
  EXPECT_EQ(std::string_view(v["signature"].at(0)["name"]), "activity:clicks_10m");
  EXPECT_EQ(std::string_view(v["signature"].at(0)["type"]), "int64");
  EXPECT_EQ(std::string_view(v["content_hash"]).size(), 64u);

  Outcome unknown =
      Freshet("models register ranker " + LinearModel() + " --feature-service nope " + Project());
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown feature service 'nope'"), std::string::npos) << unknown.err;
}

TEST_F(ModelsCliTest, AliasToAVersionOfAnotherSignatureIsRefusedNamingTheFeature) {
  ASSERT_EQ(Register("scoring", "0.7").exit_code, 0);   // v1: champion, serves rank
  ASSERT_EQ(Register("reversed", "0.8").exit_code, 0);  // v2
  Outcome wrong = Freshet("models alias ranker challenger 1 " + Project());
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("deployment 'rank_next' (feature service 'reversed') cannot serve "
                           "model \"ranker\" version 1: feature 1 is 'activity:clicks_10m' "
                           "(int64) in the model's signature but 'activity:amount_1h' (double) "
                           "in the service"),
            std::string::npos)
      << wrong.err;
  Outcome right = Freshet("models alias ranker challenger 2 " + Project());
  ASSERT_EQ(right.exit_code, 0) << right.err;
  EXPECT_EQ(right.out, "ranker challenger: (none) -> v2\n");
  Outcome promote = Freshet("models promote ranker 2 --force " + Project());
  EXPECT_EQ(promote.exit_code, 1);
  EXPECT_NE(promote.err.find("deployment 'rank'"), std::string::npos) << promote.err;

  // freshet.yaml changed under the registry: apply and serve name the deployment. apply reads
  // the registry read-only, so it works while another process holds the data directory.
  WriteSpec("rank_next: {model: ranker, features: scoring, alias: challenger}");
  {
    InstanceOptions options;
    options.project_dir = dir_.File("good");
    options.data_dir = dir_.File("data");
    auto held = Instance::Open(options);
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    Outcome apply = Freshet("apply " + Project());
    EXPECT_EQ(apply.exit_code, 1);
    EXPECT_NE(apply.err.find("deployment 'rank_next' (feature service 'scoring') cannot serve "
                             "model \"ranker\" version 2: feature 1 is 'activity:amount_1h'"),
              std::string::npos)
        << apply.err;
  }
  Outcome serve = Freshet("serve --listen 127.0.0.1:0 " + Project());
  EXPECT_EQ(serve.exit_code, 1);
  EXPECT_NE(serve.err.find("deployment 'rank_next'"), std::string::npos) << serve.err;
}

TEST_F(ModelsCliTest, PromoteRollbackDeleteAndTag) {
  ASSERT_EQ(Register("scoring", "0.7").exit_code, 0);
  ASSERT_EQ(Register("scoring", "0.8").exit_code, 0);
  ASSERT_EQ(Register("scoring", "0.75").exit_code, 0);
  Outcome promote = Freshet("models promote ranker 2 --metric auc " + Project());
  ASSERT_EQ(promote.exit_code, 0) << promote.err;
  EXPECT_EQ(promote.out, "ranker champion: v1 -> v2 (auc 0.8 > 0.7 on the same holdout)\n");
  Outcome worse = Freshet("models promote ranker 3 --metric auc " + Project());
  EXPECT_EQ(worse.exit_code, 1);
  EXPECT_NE(worse.err.find("auc 0.75 does not beat 0.8 (higher is better)"), std::string::npos)
      << worse.err;
  Outcome no_metric = Freshet("models promote ranker 3 " + Project());
  EXPECT_EQ(no_metric.exit_code, 2);

  Outcome rollback = Freshet("models rollback ranker --json " + Project());
  ASSERT_EQ(rollback.exit_code, 0) << rollback.err;
  simdjson::dom::element change = Parse(rollback);
  EXPECT_EQ(int64_t(change["version"]), 1);
  EXPECT_EQ(int64_t(change["previous"]), 2);
  EXPECT_TRUE(bool(change["rollback"]));

  Outcome in_use = Freshet("models delete ranker 1 " + Project());
  EXPECT_EQ(in_use.exit_code, 1);
  EXPECT_NE(in_use.err.find("alias \"champion\" points at it"), std::string::npos) << in_use.err;
  Outcome deleted = Freshet("models delete ranker 2 " + Project());
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, "deleted ranker v2\n");

  Outcome tag = Freshet("models tag ranker stage=prod owner=bob -v 3 --json " + Project());
  ASSERT_EQ(tag.exit_code, 0) << tag.err;
  EXPECT_EQ(std::string_view(Parse(tag)["tags"]["stage"]), "prod");
  Outcome untag = Freshet("models tag ranker --remove owner -v 3 --json " + Project());
  ASSERT_EQ(untag.exit_code, 0) << untag.err;
  simdjson::dom::element tags = Parse(untag)["tags"];
  EXPECT_EQ(tags.get_object().size(), 1u);

  Outcome list = Freshet("models list --json " + Project());
  simdjson::dom::element model = Parse(list)["models"].at(0);
  EXPECT_EQ(model["versions"].get_array().size(), 2u);
  EXPECT_EQ(int64_t(model["aliases"]["champion"]), 1);
}

TEST_F(ModelsCliTest, DeployPinsReleasesOfVersionAndGenerationAndRollsBack) {
  ASSERT_EQ(Register("scoring", "0.7").exit_code, 0);  // v1
  ASSERT_EQ(Register("scoring", "0.8").exit_code, 0);  // v2
  Outcome none = Freshet("deploy rank --rollback " + Project());
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("deployment 'rank' has no previous release"), std::string::npos)
      << none.err;

  Outcome first = Freshet("deploy rank --model-version 2 " + Project());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("rank: release 1: model ranker v2, features activity@g1"),
            std::string::npos)
      << first.out;
  Outcome rebuild = Freshet("features rebuild activity " + Project());
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.err;
  EXPECT_NE(rebuild.out.find("building generation 2 of 'activity'"), std::string::npos)
      << rebuild.out;

  Outcome second = Freshet("deploy rank --model-version 1 --generation 2 --json " + Project());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  simdjson::dom::element releases = Parse(second);
  EXPECT_EQ(int64_t(releases["current"]["model"]["version"]), 1);
  EXPECT_EQ(int64_t(releases["current"]["feature_generations"]["activity"]), 2);
  EXPECT_EQ(int64_t(releases["previous"]["model"]["version"]), 2);
  EXPECT_EQ(int64_t(releases["previous"]["feature_generations"]["activity"]), 1);

  Outcome in_use = Freshet("features retire activity 1 " + Project());
  EXPECT_EQ(in_use.exit_code, 1);
  EXPECT_NE(in_use.err.find("in the release of deployment(s) rank"), std::string::npos)
      << in_use.err;
  Outcome back = Freshet("deploy rank --rollback --json " + Project());
  ASSERT_EQ(back.exit_code, 0) << back.err;
  simdjson::dom::element after = Parse(back);
  EXPECT_EQ(int64_t(after["current"]["model"]["version"]), 2);
  EXPECT_EQ(int64_t(after["current"]["feature_generations"]["activity"]), 1);

  Outcome generations = Freshet("features generations activity --json " + Project());
  ASSERT_EQ(generations.exit_code, 0) << generations.err;
  EXPECT_NE(generations.out.find("\"generation\":2"), std::string::npos) << generations.out;
  EXPECT_EQ(generations.out.find("\"building\""), std::string::npos) << generations.out;

  Outcome both = Freshet("deploy rank --rollback --model-version 1 " + Project());
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("--rollback takes no --model-version"), std::string::npos) << both.err;
  Outcome unknown = Freshet("deploy nope " + Project());
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown deployment 'nope'"), std::string::npos) << unknown.err;
  Outcome no_version = Freshet("deploy rank --model-version 9 " + Project());
  EXPECT_EQ(no_version.exit_code, 2);
}

TEST_F(ModelsCliTest, ImportMlflowRegistersTheXgboostFlavorOrSaysWhyNot) {
  const testing::PythonModels* models = testing::TrainedModels();
  ASSERT_NE(models, nullptr);
  const std::string dir = dir_.File("mlflow_model");
  std::filesystem::create_directories(dir + "/metrics");
  testing::WriteFile(dir + "/MLmodel",
                     "artifact_path: model\nflavors:\n  python_function:\n    data: model.xgb\n"
                     "    loader_module: mlflow.xgboost\n  xgboost:\n    data: model.xgb\n"
                     "    model_class: xgboost.core.Booster\n    model_format: xgb\n"
                     "    xgb_version: 1.7.4\nmlflow_version: 2.9.2\nrun_id: abc123\n");
  testing::WriteFile(dir + "/metrics/auc", "1767225600000 0.88 0\n");
  std::filesystem::copy_file(models->tree_legacy_binary, dir + "/model.xgb");
  Outcome imported = Freshet("models import-mlflow " + dir + " churn --json " + Project());
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  simdjson::dom::element v = Parse(imported);
  EXPECT_EQ(std::string_view(v["runtime"]), "xgboost");
  EXPECT_EQ(int64_t(v["num_features"]), 20);
  EXPECT_DOUBLE_EQ(double(v["metrics"]["auc"]), 0.88);
  EXPECT_EQ(std::string_view(v["tags"]["mlflow.run_id"]), "abc123");

  Outcome not_mlflow = Freshet("models import-mlflow " + dir_.File("good") + " churn " + Project());
  EXPECT_EQ(not_mlflow.exit_code, 2);
  EXPECT_NE(not_mlflow.err.find("no MLmodel file"), std::string::npos) << not_mlflow.err;
}

// An http source and a file source, each with expectations.
constexpr const char* kQualitySpec = R"yaml(project: quality
entities:
  user: {key: user_id}
sources:
  clicks:
    timestamp: ts_ms
    fields: {user_id: string, amount: double, channel: string}
    expectations:
      amount: {between: [0, 100], policy: reject}
      user_id: {matches: "^u[0-9]+$", policy: quarantine}
      channel: {in: [web, app], policy: warn}
  taps:
    kind: file
    timestamp: ts_ms
    fields: {user_id: string, x: double}
    path: taps/*.ndjson
    expectations:
      x: {between: [0, 1], policy: quarantine}
feature_views:
  activity:
    entity: user
    source: clicks
    features: {n: {agg: count}}
  tapping:
    entity: user
    source: taps
    features: {x_sum: {agg: sum, of: x}}
)yaml";

class CliQualityTest : public CliTest {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.File("quality/taps"));
    std::ofstream(dir_.File("quality/freshet.yaml")) << kQualitySpec;
  }
  std::string Quality() const {
    return "--project " + dir_.File("quality") + " --data " + dir_.File("qdata");
  }
};

TEST_F(CliQualityTest, IngestEnforcesExpectationsAndQualityReportCountsThemAfterARestart) {
  const std::string mixed = dir_.File("mixed.ndjson");
  std::ofstream(mixed) << R"({"user_id":"u1","ts_ms":1000,"amount":5,"channel":"web"})"
                       << "\n"
                       << R"({"user_id":"bob","ts_ms":1001,"amount":5,"channel":"web"})"
                       << "\n"
                       << R"({"user_id":"u2","ts_ms":1002,"amount":5,"channel":"tv"})"
                       << "\n";
  Outcome ingest = Freshet("ingest --source clicks " + mixed + " " + Quality());
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_NE(ingest.out.find("accepted 2 events into 'clicks' (offsets 0..2); 1 quarantined, 1 "
                            "expectation warnings"),
            std::string::npos)
      << ingest.out;

  const std::string bad = dir_.File("bad.ndjson");
  std::ofstream(bad) << R"({"user_id":"u1","ts_ms":1003,"amount":5})"
                     << "\n"
                     << R"({"user_id":"u1","ts_ms":1004,"amount":500})"
                     << "\n";
  Outcome rejected = Freshet("ingest --source clicks " + bad + " " + Quality());
  EXPECT_EQ(rejected.exit_code, 2) << rejected.err;
  EXPECT_NE(rejected.err.find("line 2: field 'amount': expectation between [0, 100]: got 500"),
            std::string::npos)
      << rejected.err;

  // A new process reads the persisted counts.
  Outcome report = Freshet("quality report " + Quality());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out,
            "SOURCE  FIELD    EXPECTATION        POLICY      COUNT\n"
            "clicks  amount   between            reject      1\n"
            "clicks  channel  in                 warn        1\n"
            "clicks  user_id  matches            quarantine  1\n"
            "3 violations in all\n");
  Outcome json = Freshet("quality report --json " + Quality());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(json.out).get(doc)) << json.out;
  EXPECT_EQ(uint64_t(doc["total"]), 3u);

  Outcome kept = Freshet("events quarantine --json --source clicks " + Quality());
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  ASSERT_FALSE(parser_.parse(kept.out).get(doc)) << kept.out;
  EXPECT_EQ(std::string_view(doc["record"]["user_id"]), "bob");
}

TEST_F(CliQualityTest, BackfillReadsAFileSourceWithoutEventsAndWritesTheQualityReport) {
  std::ofstream(dir_.File("quality/taps/a.ndjson")) << R"({"user_id":"u1","ts_ms":1000,"x":0.5})"
                                                    << "\n"
                                                    << R"({"user_id":"u1","ts_ms":2000,"x":7})"
                                                    << "\n"
                                                    << R"({"user_id":"u1","ts_ms":3000,"x":0.25})"
                                                    << "\n";
  std::ofstream(dir_.File("labels.csv")) << "user_id,ts_ms\nu1,5000\n";
  const std::string out = dir_.File("train.csv");
  Outcome run = Freshet("backfill --labels " + dir_.File("labels.csv") + " --out " + out +
                        " --features tapping:x_sum " + Quality());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(
      run.out.find("1 expectation violations, 1 events quarantined: " + out + ".quality.json"),
      std::string::npos)
      << run.out;
  std::ifstream csv(out);
  std::string text(std::istreambuf_iterator<char>(csv), {});
  EXPECT_EQ(text, "user_id,ts_ms,x_sum\nu1,5000,0.75\n");
  std::ifstream report(out + ".quality.json");
  std::string json(std::istreambuf_iterator<char>(report), {});
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(json).get(doc)) << json;
  EXPECT_EQ(uint64_t(doc["records"]), 3u);
  EXPECT_EQ(uint64_t(doc["quarantined"]), 1u);
  EXPECT_EQ(std::string_view(doc["violations"].at(0)["field"]), "x");
}

TEST_F(CliQualityTest, QualityReportThroughAServer) {
  InstanceOptions options;
  options.project_dir = dir_.File("quality");
  options.data_dir = dir_.File("qdata");
  auto instance = Instance::Open(options);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  Router router;
  ASSERT_TRUE(RegisterApi(&router, instance->get()).ok());
  HttpServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.threads = 1;
  HttpServer server(server_options, &router);
  ASSERT_TRUE(server.Start().ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string file = dir_.File("warn.ndjson");
  std::ofstream(file) << R"({"user_id":"u1","ts_ms":1000,"amount":5,"channel":"tv"})"
                      << "\n";
  Outcome ingest = Freshet("ingest --source clicks " + file + " --project " + dir_.File("quality") +
                           " --server " + url);
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_EQ(ingest.out,
            R"({"accepted":1,"first_offset":0,"duplicate":false,"quarantined":0,"warnings":1})"
            "\n");
  Outcome report = Freshet("quality report --project " + dir_.File("quality") + " --server " + url);
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("clicks  channel  in                 warn        1\n"),
            std::string::npos)
      << report.out;
  server.Stop();
}

// `freshet queue`, on the data directory and through a server: two jobs of "predict/m" in
// the dead letter (max_attempts 1: one failed attempt each) and one pending delivery job.
class CliQueueTest : public CliTest {
 protected:
  Result<std::unique_ptr<Instance>> OpenInstance() {
    InstanceOptions options;
    options.project_dir = dir_.File("good");
    options.data_dir = dir_.File("data");
    options.queue.max_attempts = 1;
    return Instance::Open(options);
  }
  void FillQueue(JobQueue* queue) {
    for (const char* id : {"j1", "j2"}) {
      ASSERT_TRUE(queue->Enqueue(JobSpec{id, "predict/m", "", "payload", 0}).ok());
      std::vector<Job> jobs;
      ASSERT_TRUE(queue->Receive("predict/m", 1, 0, &jobs).ok());
      ASSERT_EQ(jobs.size(), 1u);
      ASSERT_TRUE(queue->Nack(id, jobs[0].lease, "model failed").ok());
    }
    ASSERT_TRUE(queue->Enqueue(JobSpec{"d1", "deliver/m/0", "", "x", 0}).ok());
  }
};

TEST_F(CliQueueTest, StatsDeadReplayPurgeOnTheDataDirectory) {
  {
    auto instance = OpenInstance();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    FillQueue((*instance)->queue());
  }
  Outcome stats = Freshet("queue stats " + Project());
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("1 jobs held (limit 1000000)"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("predict/m"), std::string::npos) << stats.out;

  Outcome json = Freshet("queue stats --json " + Project());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(json.out).get(doc)) << json.out;
  EXPECT_EQ(uint64_t(doc["held"]), 1u);
  EXPECT_EQ(uint64_t(doc["queues"].at(1)["dead"]), 2u);

  Outcome dead = Freshet("queue dead --queue predict/m --limit 1 " + Project());
  ASSERT_EQ(dead.exit_code, 0) << dead.err;
  EXPECT_NE(dead.out.find("1 dead jobs of 'predict/m' (oldest first)\nj1  queue predict/m"),
            std::string::npos)
      << dead.out;
  EXPECT_NE(dead.out.find("after 1 attempts  model failed"), std::string::npos) << dead.out;

  Outcome replay = Freshet("queue replay --id j2 " + Project());
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(replay.out, "replayed 1 dead jobs\n");
  Outcome missing = Freshet("queue replay --id j2 " + Project());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no dead job 'j2'"), std::string::npos) << missing.err;

  Outcome usage = Freshet("queue purge " + Project());
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("--queue"), std::string::npos) << usage.err;
  Outcome purge = Freshet("queue purge --json --queue predict/m " + Project());
  ASSERT_EQ(purge.exit_code, 0) << purge.err;
  EXPECT_EQ(purge.out, "{\"purged\":1}\n");

  // What the commands did is in the data directory.
  auto instance = OpenInstance();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  auto left = (*instance)->queue()->ListDead("", 10);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  EXPECT_EQ((*instance)->queue()->held(), 2u);  // d1 and the replayed j2
}

TEST_F(CliQueueTest, StatsDeadReplayPurgeThroughAServer) {
  auto instance = OpenInstance();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  FillQueue((*instance)->queue());
  Router router;
  ASSERT_TRUE(RegisterApi(&router, instance->get()).ok());
  HttpServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.threads = 1;
  HttpServer server(server_options, &router);
  ASSERT_TRUE(server.Start().ok());
  const std::string server_flag = " --server http://127.0.0.1:" + std::to_string(server.port());

  Outcome stats = Freshet("queue stats" + server_flag);
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("1 jobs held (limit 1000000)"), std::string::npos) << stats.out;
  Outcome dead = Freshet("queue dead --queue predict/m" + server_flag);
  ASSERT_EQ(dead.exit_code, 0) << dead.err;
  EXPECT_NE(dead.out.find("2 dead jobs of 'predict/m'"), std::string::npos) << dead.out;
  Outcome replay = Freshet("queue replay --queue predict/m --id j1" + server_flag);
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(replay.out, "replayed 1 dead jobs\n");
  Outcome purge = Freshet("queue purge --queue predict/m" + server_flag);
  ASSERT_EQ(purge.exit_code, 0) << purge.err;
  EXPECT_EQ(purge.out, "purged 1 dead jobs of 'predict/m'\n");
  Outcome missing = Freshet("queue replay --id j2" + server_flag);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no dead job 'j2'"), std::string::npos) << missing.err;
  Outcome none = Freshet("queue dead --json" + server_flag);
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "{\"dead\":[]}\n");
  // The server holds the data directory: without --server the command says so.
  Outcome held = Freshet("queue stats " + Project());
  EXPECT_EQ(held.exit_code, 1);
  EXPECT_NE(held.err.find("in use"), std::string::npos) << held.err;
  server.Stop();
  // What the commands did is in the server's queue: j1 replayed (ready again), j2 purged.
  EXPECT_EQ((*instance)->queue()->held(), 2u);
  auto still_dead = (*instance)->queue()->ListDead("", 10);
  ASSERT_TRUE(still_dead.ok());
  EXPECT_TRUE(still_dead->empty());
  std::vector<Job> ready;
  ASSERT_TRUE((*instance)->queue()->Receive("predict/m", 10, 0, &ready).ok());
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].id, "j1");
  EXPECT_EQ(ready[0].payload, "payload");
}

TEST_F(CliQueueTest, BadSubcommandsAndMissingDataDirectoryAreClearErrors) {
  Outcome bogus = Freshet("queue bogus " + Project());
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_NE(bogus.err.find("not expected"), std::string::npos) << bogus.err;
  EXPECT_NE(bogus.err.find("bogus"), std::string::npos) << bogus.err;
  Outcome bare = Freshet("queue");
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("a subcommand is required: stats, dead, replay or purge"),
            std::string::npos)
      << bare.err;
  Outcome no_data = Freshet("queue stats " + Project());
  EXPECT_EQ(no_data.exit_code, 2);
  EXPECT_NE(no_data.err.find("no data directory " + dir_.File("data")), std::string::npos)
      << no_data.err;
  Outcome bad_limit = Freshet("queue dead --limit 0 " + Project());
  EXPECT_EQ(bad_limit.exit_code, 2);
  EXPECT_NE(bad_limit.err.find("--limit"), std::string::npos) << bad_limit.err;
}

}  // namespace
}  // namespace freshet

namespace freshet {
namespace {

constexpr const char* kTrainSpec = R"yaml(project: train_cli
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, amount: double}
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      clicks_1h: {agg: count, window: 1h}
      amount_1h: {agg: sum, of: amount, window: 1h}
feature_services:
  scoring: [activity:clicks_1h, activity:amount_1h]
models:
  scorer:
    runtime: xgboost
    train: {label: bought, rounds: 10, params: {max_depth: 2}, holdout: 0.25}
    tune:
      trials: 4
      space: {eta: {low: 0.05, high: 0.5, log: true}}
  ranker: {runtime: xgboost}
)yaml";

class TrainCliTest : public CliTest {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.File("train"));
    testing::WriteFile(dir_.File("train/freshet.yaml"), kTrainSpec);
    // User u clicks u % 5 times (in time order: nothing is late) in the hour before its label
    // time; it bought when it clicked at least 3 times.
    std::string events, labels = "user_id,ts_ms,bought\n";
    constexpr int64_t kT0 = 1'767'225'600'000;
    for (int u = 0; u < 120; ++u) {
      const int64_t ts = kT0 + u * 600'000;
      for (int c = 0; c < u % 5; ++c) {
        events += "{\"user_id\":\"u" + std::to_string(u) +
                  "\",\"ts_ms\":" + std::to_string(ts - 1000 * (u % 5 - c)) +
                  ",\"amount\":" + std::to_string(c) + "}\n";
      }
      labels += "u" + std::to_string(u) + "," + std::to_string(ts) + "," +
                (u % 5 >= 3 ? "1" : "0") + "\n";
    }
    testing::WriteFile(dir_.File("events.ndjson"), events);
    testing::WriteFile(dir_.File("labels.csv"), labels);
  }

  std::string TrainArgs() const {
    return "--labels " + dir_.File("labels.csv") + " --events " + dir_.File("events.ndjson") +
           " --project " + dir_.File("train") + " --data " + dir_.File("train_data");
  }
};

TEST_F(TrainCliTest, TrainTunesRegistersAndListsTrials) {
  Outcome run = Freshet("train scorer --tune --seed 3 --json " + TrainArgs());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(run.out).get(doc)) << run.out;
  EXPECT_EQ(int64_t(doc["version"]["version"]), 1);
  EXPECT_GT(double(doc["version"]["metrics"]["auc"]), 0.9);
  EXPECT_EQ(int64_t(doc["train_rows"]), 90);
  EXPECT_EQ(int64_t(doc["holdout_rows"]), 30);
  EXPECT_EQ(simdjson::dom::array(doc["trials"]).size(), 4u);
  const std::string trials{std::string_view(doc["version"]["tags"]["trials"])};
  EXPECT_TRUE(std::filesystem::exists(trials)) << trials;

  Outcome show = Freshet("models show scorer 1 --project " + dir_.File("train") + " --data " +
                         dir_.File("train_data"));
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("tags: trials=" + trials), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("feature service: scoring"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("metric auc = "), std::string::npos) << show.out;

  Outcome text = Freshet("train scorer " + TrainArgs());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(
      text.out.rfind("registered scorer v2: trained on 90 rows, evaluated on 30 holdout rows", 0),
      0u)
      << text.out;
}

TEST_F(TrainCliTest, ModelWithoutTrainBlockExits2) {
  Outcome run = Freshet("train ranker " + TrainArgs());
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("model 'ranker' has no train: block"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace freshet

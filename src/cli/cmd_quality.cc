// `freshet quality report`: the persisted expectation-violation counts of a project, by source,
// field, expectation and policy. Read from the data directory (opened read-only, so it works
// beside a running server and after restarts), or from a server's GET /v1/quality.
#include <fmt/format.h>

#include <filesystem>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "instance/quarantine_store.h"
#include "quality/quality_report.h"
#include "storage/db.h"

namespace freshet::cli {
namespace {

struct QualityFlags {
  ProjectFlags project;
  std::string server;
  HttpClientOptions http;
};

Result<QualityReport> ReadReport(const QualityFlags& f) {
  if (!f.server.empty()) {
    ASSIGN_OR_RETURN(HttpReply reply, HttpCall(f.server, "GET", "/v1/quality", "", {}, f.http));
    RETURN_IF_ERROR(reply.ToStatus());
    return QualityReport::FromJson(reply.body);
  }
  if (!std::filesystem::exists(f.project.DataDir())) {
    return Status::NotFound(
        fmt::format("no data directory {} (nothing ingested yet?)", f.project.DataDir()));
  }
  DbOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(f.project.DataDir(), options));
  ASSIGN_OR_RETURN(std::unique_ptr<QuarantineStore> store, QuarantineStore::Open(db.get()));
  return store->Counts();
}

Status Report(const QualityFlags& f) {
  ASSIGN_OR_RETURN(QualityReport report, ReadReport(f));
  fmt::print("{}", f.project.json ? report.ToJson() + "\n" : report.ToText());
  return Status::Ok();
}

}  // namespace

void RegisterQuality(CLI::App* app) {
  CLI::App* quality = app->add_subcommand("quality", "Data-quality expectations of the sources");
  quality->require_subcommand(1);
  auto f = std::make_shared<QualityFlags>();
  CLI::App* report = quality->add_subcommand(
      "report", "Expectation violations counted so far, by source, field, expectation, policy");
  f->project.AddTo(report);
  report->add_option("--server", f->server,
                     "Ask a running server (http://127.0.0.1:PORT) instead of the data dir");
  AddHttpClientFlags(report, &f->http);
  report->callback([f] {
    Status st = Report(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli

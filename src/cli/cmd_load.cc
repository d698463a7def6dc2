// `freshet load SOURCE FILE...`: upserts (or with --delete, deletes) rows of a table source
// from CSV (a header line, then rows) or JSON (object, array or NDJSON) files, into the data
// directory or, with --server, through POST/DELETE /v1/tables/SOURCE. Each file is one load:
// all of its rows or, at the first bad row (named by line and field), none.
#include <fmt/format.h>

#include <filesystem>

#include "api/api_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "core/json.h"
#include "instance/instance.h"

namespace freshet::cli {
namespace {

struct LoadFlags {
  ProjectFlags project;
  std::string source;
  std::vector<std::string> files;
  std::string format;  // "csv", "json"; Default: by the file name (.csv is CSV)
  bool delete_rows = false;
  std::string server;
  HttpClientOptions http;
};

TableFormat FormatOf(const LoadFlags& f, const std::string& file) {
  if (!f.format.empty()) return f.format == "csv" ? TableFormat::kCsv : TableFormat::kJson;
  return std::filesystem::path(file).extension() == ".csv" ? TableFormat::kCsv : TableFormat::kJson;
}

Status LoadThroughServer(const LoadFlags& f, const std::string& body, TableFormat format) {
  HttpHeaders headers;
  if (format == TableFormat::kCsv) headers["Content-Type"] = "text/csv";
  ASSIGN_OR_RETURN(HttpReply reply, HttpCall(f.server, f.delete_rows ? "DELETE" : "POST",
                                             "/v1/tables/" + f.source, body, headers, f.http));
  RETURN_IF_ERROR(reply.ToStatus());
  fmt::print("{}\n", reply.body);
  return Status::Ok();
}

// {"file": FILE, "source": SOURCE, "upserted" | "deleted": N}
std::string ResultJson(const LoadFlags& f, const std::string& file, size_t n) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("file");
  w.String(file.data(), static_cast<rapidjson::SizeType>(file.size()));
  w.Key("source");
  w.String(f.source.data(), static_cast<rapidjson::SizeType>(f.source.size()));
  w.Key(f.delete_rows ? "deleted" : "upserted");
  w.Uint64(n);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status Run(const LoadFlags& f) {
  std::unique_ptr<Instance> instance;
  if (f.server.empty()) {
    InstanceOptions options;
    options.project_dir = f.project.project_dir;
    options.data_dir = f.project.DataDir();
    ASSIGN_OR_RETURN(instance, Instance::Open(options));
  }
  for (const std::string& file : f.files) {
    ASSIGN_OR_RETURN(std::string body, ReadInput(file));
    TableFormat format = FormatOf(f, file);
    if (!f.server.empty()) {
      RETURN_IF_ERROR(LoadThroughServer(f, body, format).WithContext(file));
      continue;
    }
    TableStore* tables = instance->tables();
    auto n = f.delete_rows ? tables->Delete(f.source, body, format)
                           : tables->Upsert(f.source, body, format);
    if (!n.ok()) return n.status().WithContext(file);
    if (f.project.json) {
      fmt::print("{}\n", ResultJson(f, file, *n));
    } else {
      fmt::print("{}: {} {} rows of '{}'\n", file, f.delete_rows ? "deleted" : "upserted", *n,
                 f.source);
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterLoad(CLI::App* app) {
  auto f = std::make_shared<LoadFlags>();
  CLI::App* cmd = app->add_subcommand(
      "load", "Upsert (or --delete) rows of a table source from CSV or JSON/NDJSON files");
  f->project.AddTo(cmd);
  cmd->add_option("source", f->source, "Table source (kind: table)")->required();
  cmd->add_option("files", f->files, "Input files ('-' for stdin)")->required();
  cmd->add_option("--format", f->format, "csv or json (Default: csv for a .csv name, else json)")
      ->check(CLI::IsMember({"csv", "json"}));
  cmd->add_flag("--delete", f->delete_rows,
                "Delete the rows' keys from their timestamps on (rows need the key fields and "
                "the timestamp)");
  cmd->add_option("--server", f->server,
                  "Load through a running server (http://127.0.0.1:PORT) instead of the data dir");
  AddHttpClientFlags(cmd, &f->http);
  cmd->callback([f] {
    Status st = Run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli

#include <fmt/format.h>

#include "api/api_json.h"
#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "instance/instance.h"

namespace freshet::cli {
namespace {

// {"file": FILE, "accepted": N, "first_offset": O, "duplicate": false}, plus "quarantined" and
// "warnings" for a source with expectations.
std::string AckJson(const std::string& file, const AppendAck& ack, const IngestQuality& quality) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("file");
  w.String(file.data(), static_cast<rapidjson::SizeType>(file.size()));
  WriteAppendAckMembers(&w, ack, &quality);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

struct IngestFlags {
  ProjectFlags project;
  std::string source;
  std::vector<std::string> files;
  std::string idempotency_key;
  std::string server;
  HttpClientOptions http;
};

Status IngestThroughServer(const IngestFlags& f, const std::string& body) {
  HttpHeaders headers;
  if (!f.idempotency_key.empty()) headers["Idempotency-Key"] = f.idempotency_key;
  ASSIGN_OR_RETURN(HttpReply reply,
                   HttpCall(f.server, "POST", "/v1/events/" + f.source, body, headers, f.http));
  RETURN_IF_ERROR(reply.ToStatus());
  fmt::print("{}\n", reply.body);
  return Status::Ok();
}

Status Run(const IngestFlags& f) {
  std::unique_ptr<Instance> instance;
  if (f.server.empty()) {
    InstanceOptions options;
    options.project_dir = f.project.project_dir;
    options.data_dir = f.project.DataDir();
    ASSIGN_OR_RETURN(instance, Instance::Open(options));
  }
  for (const std::string& file : f.files) {
    ASSIGN_OR_RETURN(std::string body, ReadInput(file));
    if (!f.server.empty()) {
      RETURN_IF_ERROR(IngestThroughServer(f, body).WithContext(file));
      continue;
    }
    IngestQuality quality;
    auto ack = instance->Ingest(f.source, body, f.idempotency_key, nullptr, &quality);
    if (!ack.ok()) return ack.status().WithContext(file);
    if (f.project.json) {
      fmt::print("{}\n", AckJson(file, *ack, quality));
    } else {
      fmt::print("{}: accepted {} events into '{}' (offsets {}..{}){}{}\n", file, ack->count,
                 f.source, ack->first_offset, ack->first_offset + ack->count,
                 quality.quarantined + quality.warned > 0
                     ? fmt::format("; {} quarantined, {} expectation warnings", quality.quarantined,
                                   quality.warned)
                     : "",
                 ack->duplicate ? " [duplicate idempotency key: nothing new appended]" : "");
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterIngest(CLI::App* app) {
  auto f = std::make_shared<IngestFlags>();
  CLI::App* cmd = app->add_subcommand(
      "ingest", "Append events (JSON object, JSON array or NDJSON files) to a source");
  f->project.AddTo(cmd);
  cmd->add_option("--source,-s", f->source, "Source name")->required();
  cmd->add_option("files", f->files, "Input files ('-' for stdin)")->required();
  cmd->add_option("--idempotency-key", f->idempotency_key,
                  "Key making a retried ingest count once");
  cmd->add_option(
      "--server", f->server,
      "Ingest through a running server (http://127.0.0.1:PORT) instead of the data dir");
  AddHttpClientFlags(cmd, &f->http);
  cmd->callback([f] {
    Status st = Run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli

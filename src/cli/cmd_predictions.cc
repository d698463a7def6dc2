// freshet predictions DEPLOYMENT --key KEY=VALUE [--server URL]: a running server's triggered
// predictions of one entity (GET /v1/predictions/{deployment}), printed as the API answers.
#include <fmt/format.h>

#include <cctype>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/http_client.h"

namespace freshet::cli {
namespace {

struct PredictionsFlags {
  std::string deployment;
  std::vector<std::string> keys;  // KEY=VALUE
  std::string server = "http://127.0.0.1:8080";
  HttpClientOptions http;
};

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string QueryEscape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Status Run(const PredictionsFlags& f) {
  std::string target = "/v1/predictions/" + QueryEscape(f.deployment);
  char separator = '?';
  for (const std::string& key : f.keys) {
    size_t eq = key.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument(fmt::format("--key '{}': expected KEY=VALUE", key));
    }
    target += fmt::format("{}{}={}", separator, QueryEscape(key.substr(0, eq)),
                          QueryEscape(key.substr(eq + 1)));
    separator = '&';
  }
  ASSIGN_OR_RETURN(HttpReply reply, HttpCall(f.server, "GET", target, "", {}, f.http));
  RETURN_IF_ERROR(reply.ToStatus());
  fmt::print("{}\n", reply.body);
  return Status::Ok();
}

}  // namespace

void RegisterPredictions(CLI::App* app) {
  auto f = std::make_shared<PredictionsFlags>();
  CLI::App* cmd = app->add_subcommand(
      "predictions", "A running server's triggered predictions of one entity: latest + history");
  cmd->add_option("deployment", f->deployment, "A deployment with an `on:` trigger")->required();
  cmd->add_option("--key,-k", f->keys, "KEY=VALUE, one per key field of the entity")->required();
  cmd->add_option("--server", f->server, "The server")->capture_default_str();
  AddHttpClientFlags(cmd, &f->http);
  cmd->callback([f] {
    Status st = Run(*f);
    if (!st.ok()) throw CLI::RuntimeError(Fail(st));
  });
}

}  // namespace freshet::cli

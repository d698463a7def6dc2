// Runs the HTTP API for an open Instance until SIGINT/SIGTERM, then shuts down gracefully:
// stop accepting, finish in-flight requests, final checkpoint (by the Instance's destructor).
// Shared by `freshet serve` and `freshet demo`.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "instance/instance.h"
#include "server/http_server.h"
#include "server/router.h"

namespace freshet::cli {

class ApiServer {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread (and the threads it starts), so that
  // WaitForSignal can take them. Call before starting any thread.
  static void BlockStopSignals();

  // Registers the API on a router and starts listening.
  static Result<std::unique_ptr<ApiServer>> Start(Instance* instance, const std::string& listen,
                                                  int threads);
  ~ApiServer();

  int port() const { return server_->port(); }
  // Waits for SIGINT or SIGTERM; returns the signal number.
  static int WaitForSignal();
  void Stop();

 private:
  ApiServer() = default;
  Router router_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace freshet::cli

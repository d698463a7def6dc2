#include "cli/serve_runner.h"

#include <csignal>

#include "api/api.h"

namespace freshet::cli {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void ApiServer::BlockStopSignals() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int ApiServer::WaitForSignal() {
  sigset_t set = StopSignals();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

Result<std::unique_ptr<ApiServer>> ApiServer::Start(Instance* instance, const std::string& listen,
                                                    int threads) {
  std::unique_ptr<ApiServer> api(new ApiServer());
  RETURN_IF_ERROR(RegisterApi(&api->router_, instance));
  HttpServerOptions options;
  options.listen_address = listen;
  options.threads = threads;
  options.metrics = instance->metrics();
  api->server_ = std::make_unique<HttpServer>(options, &api->router_);
  RETURN_IF_ERROR(api->server_->Start());
  return api;
}

void ApiServer::Stop() { server_->Stop(); }

ApiServer::~ApiServer() {
  if (server_) server_->Stop();
}

}  // namespace freshet::cli

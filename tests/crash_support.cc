#include "crash_support.h"

#include <signal.h>

#include <future>
#include <thread>

namespace freshet::testing {

::testing::AssertionResult KillMidPost(ServerProcess* server, const std::string& target,
                                       const std::string& body, const std::string& key,
                                       std::chrono::microseconds after) {
  const cli::HttpHeaders headers = {{"Idempotency-Key", key}};
  auto post =
      std::async(std::launch::async, [&] { return server->Call("POST", target, body, headers); });
  std::this_thread::sleep_for(after);
  server->Kill(SIGKILL);
  post.wait();
  if (!server->Start()) {
    return ::testing::AssertionFailure() << "the server did not restart after a kill -9";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult PostAcked(const ServerProcess& server, const std::string& target,
                                     const std::string& body, const std::string& key) {
  auto r = server.Call("POST", target, body, {{"Idempotency-Key", key}});
  if (!r.ok()) return ::testing::AssertionFailure() << r.status().ToString();
  if (r->status != 200) {
    return ::testing::AssertionFailure()
           << "POST " << target << ": " << r->status << " " << r->body;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace freshet::testing

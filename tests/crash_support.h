// Test support for the kill -9 tests of a real `freshet serve` (crash_recovery_test,
// triggers_crash_test): a POST interrupted by SIGKILL of the server, and a POST retried under
// its Idempotency-Key until the server acknowledges it. Thread-safety: one thread per server.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "server_process.h"

namespace freshet::testing {

// Sends `body` to `target` (POST, under `Idempotency-Key: key`) and SIGKILLs the server `after`
// later, while the request is in flight (before, during or after its commit); waits for the
// request to end, then restarts the server. Fails when the restart does.
::testing::AssertionResult KillMidPost(ServerProcess* server, const std::string& target,
                                       const std::string& body, const std::string& key,
                                       std::chrono::microseconds after);

// POSTs `body` to `target` under `Idempotency-Key: key`; fails unless the server answers 200
// (the retry of a batch a kill may or may not have committed is counted once either way).
::testing::AssertionResult PostAcked(const ServerProcess& server, const std::string& target,
                                     const std::string& body, const std::string& key);

}  // namespace freshet::testing

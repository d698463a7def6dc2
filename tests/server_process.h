// ServerProcess: a real `freshet serve` child process on a free loopback port, for tests that
// drive freshet over HTTP and kill it (SIGTERM or SIGKILL) to check what survives.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "cli/http_client.h"

namespace freshet::testing {

// A currently free TCP port on 127.0.0.1.
int FreePort();

// Runs a shell command; returns its combined stdout+stderr and sets *exit_code.
std::string RunCommand(const std::string& command, int* exit_code);

class ServerProcess {
 public:
  ServerProcess(std::string binary, std::string project_dir, std::string data_dir);
  ~ServerProcess();  // SIGKILLs a running child

  // Starts `freshet serve` (with `extra_args` after the fixed ones) and waits until /healthz
  // answers (false after ~10 s).
  bool Start(const std::vector<std::string>& extra_args = {});
  // Sends `signal` and reaps the child; returns the wait status.
  int Kill(int signal);
  bool running() const { return pid_ > 0; }
  const std::string& base_url() const { return base_; }

  Result<cli::HttpReply> Call(const std::string& method, const std::string& target,
                              const std::string& body, const cli::HttpHeaders& headers = {}) const;

 private:
  std::string binary_, project_dir_, data_dir_;
  int port_;
  std::string base_;
  pid_t pid_ = -1;
};

}  // namespace freshet::testing

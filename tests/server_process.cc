#include "server_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace freshet::testing {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string RunCommand(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int rc = ::pclose(pipe);
  *exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

ServerProcess::ServerProcess(std::string binary, std::string project_dir, std::string data_dir)
    : binary_(std::move(binary)),
      project_dir_(std::move(project_dir)),
      data_dir_(std::move(data_dir)),
      port_(FreePort()),
      base_("http://127.0.0.1:" + std::to_string(port_)) {}

ServerProcess::~ServerProcess() {
  if (running()) Kill(SIGKILL);
}

bool ServerProcess::Start(const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {
      binary_,           "serve",   "--project", project_dir_,
      "--data",          data_dir_, "--listen",  "127.0.0.1:" + std::to_string(port_),
      "--checkpoint-ms", "100"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execv(binary_.c_str(), argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    auto r = Call("GET", "/healthz", "");
    if (r.ok() && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

int ServerProcess::Kill(int signal) {
  ::kill(pid_, signal);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

Result<cli::HttpReply> ServerProcess::Call(const std::string& method, const std::string& target,
                                           const std::string& body,
                                           const cli::HttpHeaders& headers) const {
  return cli::HttpCall(base_, method, target, body, headers);
}

}  // namespace freshet::testing

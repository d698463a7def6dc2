// TurnBatcher: gathers the requests for batched routes (Runs::kBatchedOnIoThread) that one I/O
// thread reads in one turn of its event loop, and runs each route's batch handler once over
// them. The first request held posts a flush to the thread's io_context; the flush runs after
// the completions that were already ready (the other connections' requests read in the same
// turn), so a batch is whatever arrived at once and nothing waits for it to fill. Internal to
// server/.
//
// Ownership: the io_context and dispatcher are the server's and outlive the batcher; a held
// request keeps its session alive until it is answered.
// Thread-safety: used only on its io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "server/dispatcher.h"

namespace freshet {

class HttpSession;

class TurnBatcher {
 public:
  TurnBatcher(boost::asio::io_context* io, Dispatcher* dispatcher);
  TurnBatcher(const TurnBatcher&) = delete;
  TurnBatcher& operator=(const TurnBatcher&) = delete;

  // Holds `session`'s request (routed to a batched route) for this turn's batch; the session
  // is answered (HttpSession::Answer) when the batch has run.
  void Hold(std::shared_ptr<HttpSession> session, Dispatcher::Held request);

 private:
  struct Entry {
    std::shared_ptr<HttpSession> session;
    Dispatcher::Held held;
  };

  // Runs the held requests, one batch per route in order of first arrival, and answers them.
  void Flush();

  boost::asio::io_context* const io_;
  Dispatcher* const dispatcher_;
  std::vector<Entry> held_;
  bool flush_posted_ = false;
};

}  // namespace freshet

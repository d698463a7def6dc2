#include "server/turn_batcher.h"

#include <boost/asio/post.hpp>
#include <utility>

#include "server/http_session.h"

namespace freshet {

TurnBatcher::TurnBatcher(boost::asio::io_context* io, Dispatcher* dispatcher)
    : io_(io), dispatcher_(dispatcher) {}

void TurnBatcher::Hold(std::shared_ptr<HttpSession> session, Dispatcher::Held request) {
  held_.push_back({std::move(session), std::move(request)});
  if (flush_posted_) return;
  flush_posted_ = true;
  boost::asio::post(*io_, [this] { Flush(); });
}

void TurnBatcher::Flush() {
  flush_posted_ = false;
  std::vector<Entry> entries = std::move(held_);
  held_.clear();
  std::vector<bool> done(entries.size(), false);
  for (size_t first = 0; first < entries.size(); ++first) {
    if (done[first]) continue;
    const Route* route = entries[first].held.routed.route;
    std::vector<size_t> members;
    std::vector<Dispatcher::Held*> batch;
    for (size_t i = first; i < entries.size(); ++i) {
      if (done[i] || entries[i].held.routed.route != route) continue;
      done[i] = true;
      members.push_back(i);
      batch.push_back(&entries[i].held);
    }
    std::vector<HttpResponse> responses = dispatcher_->RunBatch(batch);
    for (size_t m = 0; m < members.size(); ++m) {
      entries[members[m]].session->Answer(std::move(responses[m]));
    }
  }
}

}  // namespace freshet

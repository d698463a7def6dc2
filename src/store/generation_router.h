// GenerationRouter: where each feature generation of a stream view lives. A view's state is
// kept per (view, generation); each generation is maintained by a StreamEngine, and several
// may be live at once (blue-green: instance/generations.h implements this). Generation 0 in a
// request means the view's default generation: its newest caught-up one.
//
// Contract: Route answers the engine holding the generation and the generation's number (the
// default resolved), or kNotFound naming the view and generation (unknown, or retired). The
// engine is shared: it stays readable while the caller holds it, even if the generation is
// retired meanwhile. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "stream/engine.h"

namespace freshet {

// The generation to read per view (absent views: their default).
using GenerationPick = std::map<std::string, uint32_t>;

struct RoutedEngine {
  std::shared_ptr<StreamEngine> engine;
  uint32_t generation = 0;
};

class GenerationRouter {
 public:
  virtual ~GenerationRouter() = default;
  virtual Result<RoutedEngine> Route(const std::string& view, uint32_t generation) const = 0;
};

}  // namespace freshet

#include "instance/built_kinds.h"

#include "models/model_runtime.h"
#include "sinks/sink.h"
#include "sources/source.h"

namespace freshet {

BuiltKinds BuiltInThisVersion() {
  return BuiltKinds{KnownSourceKinds(), KnownSinkKinds(), KnownRuntimes()};
}

}  // namespace freshet

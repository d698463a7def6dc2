// The process's log: one line per event on stderr, through spdlog's default logger, set up
// here and nowhere else. Library code logs with spdlog::info/warn/error(...) directly.
//
//   2026-12-02T04:05:26.123Z info  freshet: listening on http://127.0.0.1:8080
//
// Thread-safety: SetUpLogging once, early (before threads log); logging itself is
// thread-safe.
#pragma once

#include <string_view>

#include "core/status.h"

namespace freshet {

// The level names, lowest first, for flags and messages.
inline constexpr std::string_view kLogLevels = "trace|debug|info|warn|error|off";

// Routes spdlog's default logger to stderr with freshet's line format (UTC time, level,
// message) at `level`, one of kLogLevels. kInvalidArgument naming the choices otherwise
// (the logger is left as it was).
Status SetUpLogging(std::string_view level = "info");

}  // namespace freshet

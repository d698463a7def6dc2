#include "core/logging.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace freshet {

Status SetUpLogging(std::string_view level) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for any name it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return Status::InvalidArgument(
        fmt::format("unknown log level '{}' (expected one of {})", level, kLogLevels));
  }
  auto logger = std::make_shared<spdlog::logger>("freshet",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);  // each line as it happens: tests and tails read it
  spdlog::set_default_logger(std::move(logger));
  return Status::Ok();
}

}  // namespace freshet

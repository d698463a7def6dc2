#include "core/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace freshet {
namespace {

TEST(LoggingTest, SetsEveryNamedLevelAndRefusesOthers) {
  struct Case {
    const char* name;
    spdlog::level::level_enum level;
  };
  for (Case c : {Case{"trace", spdlog::level::trace}, Case{"debug", spdlog::level::debug},
                 Case{"info", spdlog::level::info}, Case{"warn", spdlog::level::warn},
                 Case{"error", spdlog::level::err}, Case{"off", spdlog::level::off}}) {
    ASSERT_TRUE(SetUpLogging(c.name).ok()) << c.name;
    EXPECT_EQ(spdlog::default_logger()->level(), c.level) << c.name;
    EXPECT_EQ(spdlog::default_logger()->name(), "freshet");
  }
  Status bad = SetUpLogging("loud");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(),
            "unknown log level 'loud' (expected one of trace|debug|info|warn|error|off)");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::off) << "left as it was";
}

}  // namespace
}  // namespace freshet

#include "models/xgboost_error.h"

#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <string>

namespace freshet {

Status CheckXgb(int rc, StatusCode code, std::string_view what) {
  if (rc == 0) return Status::Ok();
  std::string message = XGBGetLastError();
  size_t end = message.find('\n');
  if (end != std::string::npos) message.resize(end);
  return Status(code, fmt::format("xgboost {}: {}", what, message));
}

}  // namespace freshet

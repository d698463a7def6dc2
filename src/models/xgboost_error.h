// XGBoost C API errors as Status: shared by the XGBoost runtime and the trainer (src/training).
// Thread-safety: XGBoost keeps its last error per thread; call right after the failing call.
#pragma once

#include <string_view>

#include "core/status.h"

namespace freshet {

// Every XGBoost C call returns 0 or -1; this turns -1 into a Status of `code` reading
// "xgboost <what>: <XGBGetLastError() without its stack trace>".
Status CheckXgb(int rc, StatusCode code, std::string_view what);

}  // namespace freshet

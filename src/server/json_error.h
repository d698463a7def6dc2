// JSON error bodies, the one error shape of every HTTP response freshet sends:
//   {"error": {"code": "not_found", "message": "unknown deployment 'x'", "details": {...}}}
// "code" is StatusCodeName(), part of the API contract.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "server/http_types.h"

namespace freshet {

// The HTTP status for a code: invalid_argument 400, unauthenticated 401, permission_denied 403,
// not_found 404, already_exists and failed_precondition 409, resource_exhausted 429,
// unavailable 503, deadline_exceeded 504, io_error, internal (and ok, a caller bug) 500.
int HttpStatusFor(StatusCode code);

// The error body for `status`. `details_json` is the text of a JSON object; anything else
// (a caller bug) is replaced by {} so the body stays valid JSON.
std::string ErrorBody(const Status& status, std::string_view details_json = "{}");

// Sets the response's status to HttpStatusFor(status.code()), its content type to JSON and its
// body to ErrorBody(); extra headers already set (e.g. Retry-After) are kept.
void SetError(HttpResponse* response, const Status& status, std::string_view details_json = "{}");

// Same with an explicit HTTP status, for the statuses a code alone does not decide
// (413 for a body over the limit, 405, 431).
void SetError(HttpResponse* response, int http_status, const Status& status,
              std::string_view details_json = "{}");

}  // namespace freshet

#include "server/json_error.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace freshet {
namespace {

bool IsJsonObject(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  return !doc.HasParseError() && doc.IsObject();
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kOk:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

std::string ErrorBody(const Status& status, std::string_view details_json) {
  if (!IsJsonObject(details_json)) details_json = "{}";
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  std::string_view code = StatusCodeName(status.code());
  writer.StartObject();
  writer.Key("error");
  writer.StartObject();
  writer.Key("code");
  writer.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  writer.Key("message");
  writer.String(status.message().data(), static_cast<rapidjson::SizeType>(status.message().size()));
  writer.Key("details");
  writer.RawValue(details_json.data(), details_json.size(), rapidjson::kObjectType);
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void SetError(HttpResponse* response, const Status& status, std::string_view details_json) {
  SetError(response, HttpStatusFor(status.code()), status, details_json);
}

void SetError(HttpResponse* response, int http_status, const Status& status,
              std::string_view details_json) {
  response->status = http_status;
  response->content_type = "application/json";
  response->body = ErrorBody(status, details_json);
}

}  // namespace freshet

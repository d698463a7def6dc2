// Routing, target decoding, JSON errors and dispatching, without sockets.
#include "server/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/metrics.h"
#include "server/dispatcher.h"
#include "server/http_probe.h"
#include "server/json_error.h"
#include "server/url_codec.h"

namespace freshet {
namespace {

Handler Noop() {
  return [](const HttpRequest&, HttpResponse*) {};
}

// The pattern of the route `method path` matches, or "" when none does.
std::string PatternFor(const Router& router, std::string_view method, std::string_view path) {
  Result<RouteMatch> match = router.Match(method, path);
  EXPECT_TRUE(match.ok()) << match.status().ToString();
  return match.ok() && match->route != nullptr ? match->route->pattern : "";
}

TEST(RouterTest, LiteralSegmentsWinOverParameters) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/v1/models/{name}", Noop()).ok());
  ASSERT_TRUE(router.Add("GET", "/v1/models/search", Noop()).ok());
  ASSERT_TRUE(router.Add("GET", "/v1/models/search/{q}/x", Noop()).ok());
  EXPECT_EQ(PatternFor(router, "GET", "/v1/models/search"), "/v1/models/search");
  EXPECT_EQ(PatternFor(router, "GET", "/v1/models/churn"), "/v1/models/{name}");
  // The literal branch has no route for this depth, so the search falls back to the parameter.
  EXPECT_EQ(PatternFor(router, "GET", "/v1/models/search/a/x"), "/v1/models/search/{q}/x");
  EXPECT_EQ(PatternFor(router, "GET", "/v1/models/search/a"), "");
  EXPECT_EQ(PatternFor(router, "GET", "/v1/models/"), "");  // a parameter is never empty
  EXPECT_EQ(PatternFor(router, "GET", "/v1/models"), "");
}

TEST(RouterTest, CapturesDecodedParameters) {
  Router router;
  ASSERT_TRUE(router.Add("POST", "/v1/events/{source}", Noop()).ok());
  ASSERT_TRUE(router.Add("GET", "/v2/models/{name}/versions/{version}", Noop()).ok());
  Result<RouteMatch> match = router.Match("POST", "/v1/events/app%20events+x");
  ASSERT_TRUE(match.ok());
  ASSERT_NE(match->route, nullptr);
  EXPECT_EQ(match->path_params.at("source"), "app events+x");  // '+' is itself in a path
  match = router.Match("GET", "/v2/models/m%2F1/versions/3");
  ASSERT_TRUE(match.ok() && match->route != nullptr);
  EXPECT_EQ(match->path_params.at("name"), "m/1");
  EXPECT_EQ(match->path_params.at("version"), "3");
  EXPECT_FALSE(router.Match("GET", "/v2/models/%zz/versions/3").ok());
  EXPECT_FALSE(router.Match("GET", "v2/models").ok());
}

TEST(RouterTest, RestParameterTakesTheRemainingSegments) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/ui/{path...}", Noop()).ok());
  ASSERT_TRUE(router.Add("GET", "/ui/api/{x}", Noop()).ok());
  ASSERT_TRUE(router.Add("GET", "/", Noop()).ok());
  Result<RouteMatch> match = router.Match("GET", "/ui/static/js/app.js");
  ASSERT_TRUE(match.ok() && match->route != nullptr);
  EXPECT_EQ(match->path_params.at("path"), "static/js/app.js");
  EXPECT_EQ(PatternFor(router, "GET", "/ui/api/1"), "/ui/api/{x}");
  EXPECT_EQ(PatternFor(router, "GET", "/ui/api/1/2"), "/ui/{path...}");
  EXPECT_EQ(PatternFor(router, "GET", "/ui"), "");
  EXPECT_EQ(PatternFor(router, "GET", "/"), "/");
}

TEST(RouterTest, OtherMethodsOfAMatchingPathGiveTheAllowHeader) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/v1/models/{name}", Noop()).ok());
  ASSERT_TRUE(router.Add("DELETE", "/v1/models/{name}", Noop()).ok());
  Result<RouteMatch> match = router.Match("POST", "/v1/models/m");
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->route, nullptr);
  EXPECT_EQ(match->AllowHeader(), "DELETE, GET, HEAD");
  match = router.Match("POST", "/v1/nothing");
  ASSERT_TRUE(match.ok());
  EXPECT_TRUE(match->other_methods.empty());
}

TEST(RouterTest, HeadIsServedByGetUnlessItHasItsOwnRoute) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/a", Noop()).ok());
  ASSERT_TRUE(router.Add("GET", "/b", Noop()).ok());
  ASSERT_TRUE(router.Add("HEAD", "/b", Noop()).ok());
  Result<RouteMatch> a = router.Match("HEAD", "/a");
  Result<RouteMatch> b = router.Match("HEAD", "/b");
  ASSERT_TRUE(a.ok() && a->route != nullptr && b.ok() && b->route != nullptr);
  EXPECT_EQ(a->route->method, "GET");
  EXPECT_EQ(b->route->method, "HEAD");
}

TEST(RouterTest, RejectsBadPatternsAndDuplicates) {
  Router router;
  EXPECT_EQ(router.Add("GET", "v1", Noop()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/v1//x", Noop()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/v1/{a", Noop()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/v1/x{a}", Noop()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/{a}/{a}", Noop()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/{rest...}/x", Noop()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("get", "/x", Noop()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/x", nullptr).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(router.Add("GET", "/v1/{a}", Noop()).ok());
  Status dup = router.Add("GET", "/v1/{b}", Noop());
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup.message().find("/v1/{a}"), std::string::npos) << dup.message();
  EXPECT_TRUE(router.Add("POST", "/v1/{b}", Noop()).ok());
  EXPECT_EQ(router.routes().size(), 2u);
}

TEST(UrlCodecTest, DecodesQueries) {
  Result<StringMap> q = ParseQuery("user_id=u%201&name=a+b&flag&&user_id=second&e=");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->at("user_id"), "u 1");  // the first of a repeated key
  EXPECT_EQ(q->at("name"), "a b");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_EQ(q->at("e"), "");
  EXPECT_EQ(q->size(), 4u);
  EXPECT_FALSE(ParseQuery("a=%4").ok());
  EXPECT_FALSE(ParseQuery("a=%g0").ok());
  EXPECT_EQ(*PercentDecode("%41%62c", false), "Abc");
}

TEST(JsonErrorTest, MapsCodesToHttpStatuses) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(StatusCode::kIoError), 500);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
}

TEST(JsonErrorTest, WritesTheErrorShape) {
  HttpResponse response;
  response.headers.emplace_back("Retry-After", "1");
  SetError(&response, Status::NotFound("unknown \"x\""), R"({"name": "x"})");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body,
            R"({"error":{"code":"not_found","message":"unknown \"x\"","details":{"name": "x"}}})");
  EXPECT_EQ(response.headers.size(), 1u);
  SetError(&response, 413, Status::ResourceExhausted("too big"));
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(ErrorBody(Status::Internal("m"), "[1]"),
            R"({"error":{"code":"internal","message":"m","details":{}}})");
  EXPECT_EQ(ErrorBody(Status::Internal("m"), "{bad"),
            R"({"error":{"code":"internal","message":"m","details":{}}})");
}

class DispatcherTest : public ::testing::Test {
 protected:
  HttpResponse Dispatch(std::string method, std::string target) {
    Dispatcher dispatcher(&router_, &probe_);
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    return dispatcher.Dispatch(&request);
  }

  MetricsRegistry registry_;
  HttpProbe probe_{&registry_};
  Router router_;
};

TEST_F(DispatcherTest, FillsRequestAndRunsHandler) {
  ASSERT_TRUE(router_
                  .Add("GET", "/p/{id}",
                       [](const HttpRequest& r, HttpResponse* out) {
                         out->body = *r.PathParam("id") + "|" + *r.QueryParam("q") + "|" + r.path;
                       })
                  .ok());
  HttpResponse response = Dispatch("GET", "/p/a%2Fb?q=x+y");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "a/b|x y|/p/a%2Fb");
}

TEST_F(DispatcherTest, ErrorsBecomeJsonResponses) {
  ASSERT_TRUE(router_
                  .Add("GET", "/throw",
                       [](const HttpRequest&, HttpResponse*) { throw std::runtime_error("boom"); })
                  .ok());
  ASSERT_TRUE(router_
                  .Add("GET", "/bad-status",
                       [](const HttpRequest&, HttpResponse* out) { out->status = 42; })
                  .ok());
  HttpResponse thrown = Dispatch("GET", "/throw");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.body,
            R"({"error":{"code":"internal","message":"GET /throw failed: boom","details":{}}})");
  EXPECT_EQ(Dispatch("GET", "/bad-status").status, 500);
  EXPECT_EQ(Dispatch("GET", "/x?a=%zz").status, 400);
  HttpResponse not_allowed = Dispatch("PUT", "/throw");
  EXPECT_EQ(not_allowed.status, 405);
  ASSERT_EQ(not_allowed.headers.size(), 1u);
  EXPECT_EQ(not_allowed.headers[0].second, "GET, HEAD");
  EXPECT_NE(registry_.Render().find(
                R"(freshet_http_requests_total{route="/throw",method="PUT",code="405"} 1)"),
            std::string::npos);
}

TEST(HttpHeadersTest, LookupIgnoresCase) {
  HttpHeaders headers;
  headers.Add("Content-Type", "text/csv");
  headers.Add("X-Key", "1");
  headers.Add("x-key", "2");
  ASSERT_NE(headers.Get("content-type"), nullptr);
  EXPECT_EQ(*headers.Get("content-type"), "text/csv");
  EXPECT_EQ(*headers.Get("X-KEY"), "1");
  EXPECT_EQ(headers.Get("Content"), nullptr);
}

TEST(MethodLabelTest, BoundsMethodLabels) {
  EXPECT_EQ(MethodLabel("POST"), "POST");
  EXPECT_EQ(MethodLabel("BREW"), "other");
}

}  // namespace
}  // namespace freshet

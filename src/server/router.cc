#include "server/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "server/url_codec.h"

namespace freshet {

namespace internal {

// One segment position of the pattern tree. A route sits at the node its last segment ends on.
struct RouteNode {
  std::map<std::string, std::unique_ptr<RouteNode>, std::less<>> literals;
  std::unique_ptr<RouteNode> param;  // any one segment
  std::unique_ptr<RouteNode> rest;   // the remaining segments; never has children
  std::map<std::string, const Route*, std::less<>> by_method;
};

}  // namespace internal

using internal::RouteNode;

namespace {

enum class SegmentKind { kLiteral, kParam, kRest };

struct Segment {
  SegmentKind kind;
  std::string text;  // the literal, or the parameter's name
};

// Splits "/a/b" into {"a", "b"}; "/" has no segments.
std::vector<std::string_view> SplitSegments(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path == "/") return segments;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

bool IsParamName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<Segment> ParseSegment(std::string_view piece, bool last) {
  if (piece.empty()) return Status::InvalidArgument("empty segment");
  if (piece.front() != '{') {
    if (piece.find_first_of("{}") != std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("'{}' mixes text and a parameter", piece));
    }
    return Segment{SegmentKind::kLiteral, std::string(piece)};
  }
  if (piece.back() != '}') return Status::InvalidArgument(fmt::format("unclosed '{}'", piece));
  std::string_view name = piece.substr(1, piece.size() - 2);
  SegmentKind kind = SegmentKind::kParam;
  if (name.ends_with("...")) {
    if (!last) return Status::InvalidArgument(fmt::format("'{}' must be the last segment", piece));
    name.remove_suffix(3);
    kind = SegmentKind::kRest;
  }
  if (!IsParamName(name)) return Status::InvalidArgument(fmt::format("bad parameter '{}'", piece));
  return Segment{kind, std::string(name)};
}

Result<std::vector<Segment>> ParsePattern(std::string_view pattern) {
  if (!pattern.starts_with('/')) return Status::InvalidArgument("must start with '/'");
  std::vector<std::string_view> pieces = SplitSegments(pattern);
  std::vector<Segment> segments;
  std::set<std::string, std::less<>> names;
  for (size_t i = 0; i < pieces.size(); ++i) {
    ASSIGN_OR_RETURN(Segment segment, ParseSegment(pieces[i], i + 1 == pieces.size()));
    if (segment.kind != SegmentKind::kLiteral && !names.insert(segment.text).second) {
      return Status::InvalidArgument(fmt::format("parameter '{}' appears twice", segment.text));
    }
    segments.push_back(std::move(segment));
  }
  return segments;
}

bool IsMethodName(std::string_view method) {
  return !method.empty() &&
         std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::unique_ptr<RouteNode>& Child(std::unique_ptr<RouteNode>& node) {
  if (node == nullptr) node = std::make_unique<RouteNode>();
  return node;
}

// A depth-first search in precedence order (literal, then parameter, then rest).
class Matcher {
 public:
  Matcher(std::string_view method, const std::vector<std::string>& segments, RouteMatch* match)
      : method_(method), segments_(segments), match_(match) {}

  bool Walk(const RouteNode& node, size_t i) {
    if (i == segments_.size()) return Accept(node);
    const std::string& segment = segments_[i];
    auto literal = node.literals.find(segment);
    if (literal != node.literals.end() && Walk(*literal->second, i + 1)) return true;
    if (node.param != nullptr && WalkWithValue(*node.param, i + 1, segment)) return true;
    return node.rest != nullptr && WalkWithValue(*node.rest, segments_.size(), JoinFrom(i));
  }

 private:
  bool WalkWithValue(const RouteNode& node, size_t next, const std::string& value) {
    if (value.empty()) return false;
    values_.push_back(value);
    if (Walk(node, next)) return true;
    values_.pop_back();
    return false;
  }

  std::string JoinFrom(size_t i) const {
    std::string joined = segments_[i];
    for (size_t j = i + 1; j < segments_.size(); ++j) joined.append("/").append(segments_[j]);
    return joined;
  }

  bool Accept(const RouteNode& node) {
    const Route* route = Find(node, method_);
    if (route == nullptr && method_ == "HEAD") route = Find(node, "GET");
    if (route == nullptr) {
      for (const auto& [method, other] : node.by_method) match_->other_methods.push_back(other);
      return false;
    }
    match_->route = route;
    match_->other_methods.clear();
    for (size_t k = 0; k < values_.size(); ++k) {
      match_->path_params.emplace(route->param_names[k], values_[k]);
    }
    return true;
  }

  static const Route* Find(const RouteNode& node, std::string_view method) {
    auto it = node.by_method.find(method);
    return it == node.by_method.end() ? nullptr : it->second;
  }

  const std::string_view method_;
  const std::vector<std::string>& segments_;
  RouteMatch* const match_;
  std::vector<std::string> values_;  // parameter values on the current search path
};

}  // namespace

std::string RouteMatch::AllowHeader() const {
  std::set<std::string> methods;
  for (const Route* route : other_methods) {
    methods.insert(route->method);
    if (route->method == "GET") methods.insert("HEAD");
  }
  std::string header;
  for (const std::string& method : methods) {
    if (!header.empty()) header.append(", ");
    header.append(method);
  }
  return header;
}

Router::Router() : root_(std::make_unique<RouteNode>()) {}
Router::~Router() = default;

Status Router::Add(std::string_view method, std::string_view pattern, Handler handler, Runs runs) {
  if (runs == Runs::kBatchedOnIoThread) {
    return Status::InvalidArgument(fmt::format(
        "route {} {}: a batched route takes a BatchHandler (AddBatched)", method, pattern));
  }
  auto route = std::make_unique<Route>();
  route->handler = std::move(handler);
  route->runs = runs;
  return Insert(method, pattern, std::move(route));
}

Status Router::AddBatched(std::string_view method, std::string_view pattern, BatchHandler handler) {
  auto route = std::make_unique<Route>();
  route->batch_handler = std::move(handler);
  route->runs = Runs::kBatchedOnIoThread;
  return Insert(method, pattern, std::move(route));
}

Status Router::Insert(std::string_view method, std::string_view pattern,
                      std::unique_ptr<Route> route) {
  std::string where = fmt::format("route {} {}", method, pattern);
  if (!IsMethodName(method)) return Status::InvalidArgument(where + ": method must be upper case");
  if (!route->handler && !route->batch_handler) {
    return Status::InvalidArgument(where + ": no handler");
  }
  Result<std::vector<Segment>> segments = ParsePattern(pattern);
  if (!segments.ok()) return segments.status().WithContext(where);

  RouteNode* node = root_.get();
  for (const Segment& segment : *segments) {
    switch (segment.kind) {
      case SegmentKind::kLiteral:
        node = Child(node->literals[segment.text]).get();
        break;
      case SegmentKind::kParam:
        node = Child(node->param).get();
        break;
      case SegmentKind::kRest:
        node = Child(node->rest).get();
        break;
    }
    if (segment.kind != SegmentKind::kLiteral) route->param_names.push_back(segment.text);
  }
  if (node->by_method.contains(method)) {
    return Status::AlreadyExists(
        fmt::format("{}: same shape as {}", where, node->by_method.find(method)->second->pattern));
  }
  route->method = std::string(method);
  route->pattern = std::string(pattern);
  route->id = routes_.size();
  node->by_method.emplace(route->method, route.get());
  routes_.push_back(std::move(route));
  return Status::Ok();
}

Result<RouteMatch> Router::Match(std::string_view method, std::string_view path) const {
  if (!path.starts_with('/')) {
    return Status::InvalidArgument(fmt::format("request path '{}' must start with '/'", path));
  }
  std::vector<std::string> segments;
  for (std::string_view piece : SplitSegments(path)) {
    ASSIGN_OR_RETURN(std::string segment, PercentDecode(piece, /*plus_is_space=*/false));
    segments.push_back(std::move(segment));
  }
  RouteMatch match;
  Matcher(method, segments, &match).Walk(*root_, 0);
  return match;
}

}  // namespace freshet

// Expression text (`where` filters and derived features) through Expr::Compile and
// CompileFilter, then evaluated over rows of ordinary and extreme values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "stream/expr.h"

using namespace freshet;

namespace {

std::optional<ResolvedName> Resolve(std::string_view name) {
  if (name == "user_id") return ResolvedName{0, FieldType::kString};
  if (name == "event") return ResolvedName{1, FieldType::kString};
  if (name == "amount") return ResolvedName{2, FieldType::kDouble};
  if (name == "qty") return ResolvedName{3, FieldType::kInt64};
  if (name == "ok") return ResolvedName{4, FieldType::kBool};
  if (name == "ts") return ResolvedName{5, FieldType::kTimestamp};
  if (name == "any") return ResolvedName{6, std::nullopt};
  return std::nullopt;
}

std::vector<std::vector<Value>> Rows() {
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {Value(), Value(), Value(), Value(), Value(), Value(), Value()},
      {Value::String("u1"), Value::String("exit"), Value::Double(2.5), Value::Int(3),
       Value::Bool(true), Value::Int(1'767'225'600'000), Value::String("x")},
      {Value::String(""), Value::String("start"), Value::Double(-0.0), Value::Int(INT64_MIN),
       Value::Bool(false), Value::Int(INT64_MAX), Value::Int(-1)},
      {Value::String("\xff\xfe"), Value::String("%_"), Value::Double(std::nan("")),
       Value::Int(INT64_MAX), Value::Bool(true), Value::Int(INT64_MIN), Value::Double(inf)},
      {Value::String("a"), Value::String("b"), Value::Double(1e308), Value::Int(-1),
       Value::Bool(false), Value::Int(0), Value::Bool(true)},
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::vector<Value>> rows = Rows();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto expr = Expr::Compile(text, Resolve);
  if (expr.ok()) {
    for (const auto& row : rows) (*expr)->Eval(row.data());
  } else {
    if (expr.status().code() != StatusCode::kInvalidArgument) __builtin_trap();
  }
  auto filter = Expr::CompileFilter(text, Resolve);
  if (filter.ok()) {
    for (const auto& row : rows) (*filter)->Matches(row.data());
  }
  return 0;
}

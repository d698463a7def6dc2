// Expr: freshet's small SQL-like expression language. Feature views use it for `where` filters
// over an event's fields and for derived features over the other features of the view:
//   event = 'exit' and category in ('sleep', 'focus')
//   sleep_exits_10m / nullif(events_10m, 0)
//
// An expression is compiled once: names are resolved to slot indexes by the caller's resolver,
// types are checked where they are known, and the result is a tree evaluated over an array of
// Values indexed by slot. Numeric, boolean and comparison evaluation never allocates; only
// string results do (lower(), upper(), or Eval() returning a string).
//
// The language (keywords and function names are case-insensitive; names are case-sensitive):
//   literals    12  1.5  2e3  'it''s'  true  false  null   (integers must fit in int64)
//   names       [A-Za-z_][A-Za-z0-9_]*, resolved at compile time (unknown names are errors)
//   operators   from loosest to tightest binding:
//                 or
//                 and
//                 not
//                 = == != <> < <= > >=   x [not] in (a, ...)   x [not] between a and b
//                 x is [not] null        (these do not chain: `a < b < c` is an error)
//                 + -
//                 * / %
//                 unary -
//   functions   nullif(a, b)  coalesce(a, ...)  abs(x)  least(a, ...)  greatest(a, ...)
//               lower(s)  upper(s)  length(s)  if(cond, a, b)
//
// Semantics are SQL's:
//   - arithmetic and comparison with null give null; and/or/not are three-valued
//     (null and false = false, null or true = true); `x in (...)` is null when x is null, or when
//     nothing matched and the list holds a null.
//   - int op int stays int, except / which always gives a double; an int overflow, a division
//     or a modulo by zero give null. % truncates toward zero like C++ (and SQL).
//   - strings compare bytewise; ints and doubles compare numerically; false < true.
//   - mixing types (string with number, bool with number) is a compile error when both types
//     are known, and null at run time otherwise (e.g. a name whose type the resolver left open).
//   - least/greatest ignore nulls (as PostgreSQL) and give null only when every argument is
//     null; the result is a double when any compared argument is.
//   - length counts UTF-8 code points; lower/upper map ASCII letters only.
//   - if(cond, a, b) gives a only when cond is true (null and false pick b).
//   - coalesce, if, and, or evaluate lazily.
//   - timestamp names are int64 epoch milliseconds.
// Expressions nest at most 100 levels deep, which bounds the recursion of parsing and evaluation.
//
// Errors are Status::InvalidArgument with a message "column N: what is wrong", N being the
// 1-based (byte) column in the expression text, e.g. "column 12: unknown name 'categry'".
//
// Thread-safety: a compiled Expr is immutable; Eval and Matches may run concurrently.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"

namespace freshet {

// What a name in an expression refers to.
struct ResolvedName {
  int slot = 0;                   // >= 0: index into the `slots` array given to Eval/Matches
  std::optional<FieldType> type;  // the static type when known; enables compile-time checks
};

// Maps a name to its slot, or nullopt when the name is unknown. Called only during Compile.
using NameResolver = std::function<std::optional<ResolvedName>(std::string_view name)>;

class Expr {
 public:
  // Parses and type-checks `text`. Errors: InvalidArgument "column N: ...".
  static Result<std::shared_ptr<const Expr>> Compile(std::string_view text,
                                                     const NameResolver& resolve);
  // As Compile, and also rejects an expression whose static type is known not to be boolean
  // (e.g. `duration_s + 1`), since Matches would reject every event.
  static Result<std::shared_ptr<const Expr>> CompileFilter(std::string_view text,
                                                           const NameResolver& resolve);

  ~Expr();

  // Evaluates over `slots`. REQUIRES: slots[i] is valid for every i in slots_used().
  Value Eval(const Value* slots) const;
  // For filters: true only when Eval would give boolean true (null and false reject).
  bool Matches(const Value* slots) const;

  // The slots the expression reads, ascending and without duplicates (for dependency order).
  const std::vector<int>& slots_used() const;
  // The static type of the result, or nullopt when it depends on run-time values (or is null).
  std::optional<FieldType> result_type() const;
  // The source text, for plans and messages.
  const std::string& text() const;

  struct Program;  // the compiled tree (expr.cc)

 private:
  explicit Expr(std::unique_ptr<const Program> program);
  std::unique_ptr<const Program> program_;
};

}  // namespace freshet

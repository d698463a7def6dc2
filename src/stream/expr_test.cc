#include "stream/expr.h"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace freshet {

// Lets GoogleTest print Values in failure messages.
void PrintTo(const Value& v, std::ostream* os) { *os << v.ToString(); }

namespace {

// Names visible to the expressions under test: slot and static type (none = unknown).
const std::map<std::string, ResolvedName, std::less<>> kNames = {
    {"event", {0, FieldType::kString}},
    {"category", {1, FieldType::kString}},
    {"duration_s", {2, FieldType::kDouble}},
    {"count", {3, FieldType::kInt64}},
    {"flag", {4, FieldType::kBool}},
    {"any", {5, std::nullopt}},
    {"other", {6, std::nullopt}},
    {"ts", {7, FieldType::kTimestamp}},
    {"events_10m", {8, FieldType::kInt64}},
    {"sleep_exits_10m", {9, FieldType::kInt64}},
};

std::optional<ResolvedName> Resolve(std::string_view name) {
  auto it = kNames.find(name);
  if (it == kNames.end()) return std::nullopt;
  return it->second;
}

class ExprTest : public ::testing::Test {
 protected:
  ExprTest() : slots_(kNames.size()) {
    slots_[0] = Value::String("exit");
    slots_[1] = Value::String("sleep");
    slots_[2] = Value::Double(90.5);
    slots_[3] = Value::Int(4);
    slots_[4] = Value::Bool(true);
    // any, other: null unless a test sets them.
    slots_[7] = Value::Int(1'767'225'600'000);
    slots_[8] = Value::Int(8);
    slots_[9] = Value::Int(2);
  }

  std::shared_ptr<const Expr> MustCompile(std::string_view text) {
    Result<std::shared_ptr<const Expr>> expr = Expr::Compile(text, Resolve);
    EXPECT_TRUE(expr.ok()) << text << " -> " << expr.status().ToString();
    return expr.ok() ? *expr : nullptr;
  }
  Value Eval(std::string_view text) {
    std::shared_ptr<const Expr> expr = MustCompile(text);
    return expr ? expr->Eval(slots_.data()) : Value::String("<did not compile>");
  }
  bool Matches(std::string_view text) {
    std::shared_ptr<const Expr> expr = MustCompile(text);
    return expr && expr->Matches(slots_.data());
  }
  // The compile error's message, or "<compiled>".
  std::string Error(std::string_view text) {
    Result<std::shared_ptr<const Expr>> expr = Expr::Compile(text, Resolve);
    if (expr.ok()) return "<compiled>";
    EXPECT_EQ(expr.status().code(), StatusCode::kInvalidArgument);
    return expr.status().message();
  }

  std::vector<Value> slots_;
};

const Value kNull;
Value I(int64_t i) { return Value::Int(i); }
Value D(double d) { return Value::Double(d); }
Value S(std::string s) { return Value::String(std::move(s)); }
Value B(bool b) { return Value::Bool(b); }

TEST_F(ExprTest, Literals) {
  EXPECT_EQ(Eval("42"), I(42));
  EXPECT_TRUE(Eval("42").is_int());
  EXPECT_EQ(Eval("1.5"), D(1.5));
  EXPECT_EQ(Eval(".5"), D(0.5));
  EXPECT_EQ(Eval("2e3"), D(2000));
  EXPECT_TRUE(Eval("2e3").is_double());
  EXPECT_EQ(Eval("'it''s'"), S("it's"));
  EXPECT_EQ(Eval("''"), S(""));
  EXPECT_EQ(Eval("true"), B(true));
  EXPECT_EQ(Eval("FALSE"), B(false));
  EXPECT_TRUE(Eval("Null").is_null());
}

TEST_F(ExprTest, Precedence) {
  EXPECT_EQ(Eval("1 + 2 * 3"), I(7));
  EXPECT_EQ(Eval("(1 + 2) * 3"), I(9));
  EXPECT_EQ(Eval("10 - 4 - 3"), I(3));  // left-associative
  EXPECT_EQ(Eval("2 * 3 % 4"), I(2));
  EXPECT_EQ(Eval("-2 * 3"), I(-6));
  EXPECT_EQ(Eval("- (2 + 3)"), I(-5));
  EXPECT_EQ(Eval("- - 2"), I(2));
  EXPECT_EQ(Eval("1 + 1 = 2"), B(true));
  EXPECT_EQ(Eval("true or false and false"), B(true));  // and binds tighter than or
  EXPECT_EQ(Eval("(true or false) and false"), B(false));
  EXPECT_EQ(Eval("not true and false"), B(false));  // (not true) and false
  EXPECT_EQ(Eval("not 1 = 2"), B(true));            // not (1 = 2)
  EXPECT_EQ(Eval("not not true"), B(true));
  EXPECT_EQ(Eval("1 < 2 AND 3 > 2 Or false"), B(true));
}

TEST_F(ExprTest, IntStaysIntExceptDivision) {
  EXPECT_TRUE(Eval("1 + 2").is_int());
  EXPECT_TRUE(Eval("count * 2 - 1").is_int());
  EXPECT_EQ(Eval("count * 2 - 1"), I(7));
  EXPECT_EQ(Eval("7 / 2"), D(3.5));
  EXPECT_TRUE(Eval("6 / 2").is_double());
  EXPECT_EQ(Eval("7 % 3"), I(1));
  EXPECT_EQ(Eval("-7 % 3"), I(-1));  // truncates toward zero
  EXPECT_EQ(Eval("7.5 % 2"), D(1.5));
  EXPECT_TRUE(Eval("1 + 2.0").is_double());
  EXPECT_EQ(Eval("duration_s - 0.5"), D(90.0));
}

TEST_F(ExprTest, DivisionByZeroAndOverflowGiveNull) {
  EXPECT_TRUE(Eval("1 / 0").is_null());
  EXPECT_TRUE(Eval("1.0 / 0.0").is_null());
  EXPECT_TRUE(Eval("1 % 0").is_null());
  EXPECT_TRUE(Eval("5 % 0.0").is_null());
  EXPECT_TRUE(Eval("9223372036854775807 + 1").is_null());
  EXPECT_TRUE(Eval("-9223372036854775807 - 2").is_null());
  EXPECT_TRUE(Eval("4611686018427387904 * 2").is_null());
  EXPECT_EQ(Eval("(-9223372036854775807 - 1) % -1"), I(0));
  EXPECT_TRUE(Eval("-(-9223372036854775807 - 1)").is_null());
}

TEST_F(ExprTest, Comparisons) {
  EXPECT_EQ(Eval("1 = 1"), B(true));
  EXPECT_EQ(Eval("1 == 2"), B(false));
  EXPECT_EQ(Eval("1 != 2"), B(true));
  EXPECT_EQ(Eval("1 <> 1"), B(false));
  EXPECT_EQ(Eval("1 < 2"), B(true));
  EXPECT_EQ(Eval("2 <= 2"), B(true));
  EXPECT_EQ(Eval("1 > 2"), B(false));
  EXPECT_EQ(Eval("2 >= 3"), B(false));
  EXPECT_EQ(Eval("1 = 1.0"), B(true));  // numbers compare numerically
  EXPECT_EQ(Eval("2 < 2.5"), B(true));
  EXPECT_EQ(Eval("9007199254740993 > 9007199254740992"), B(true));  // exact for ints
  EXPECT_EQ(Eval("false < true"), B(true));
}

TEST_F(ExprTest, StringComparison) {
  EXPECT_EQ(Eval("event = 'exit'"), B(true));
  EXPECT_EQ(Eval("event = 'Exit'"), B(false));  // case-sensitive
  EXPECT_EQ(Eval("'a' < 'b'"), B(true));
  EXPECT_EQ(Eval("'B' < 'a'"), B(true));  // bytewise
  EXPECT_EQ(Eval("'ab' > 'a'"), B(true));
  EXPECT_EQ(Eval("category <> event"), B(true));
  // Equality of strings of equal and of different lengths, both ways.
  EXPECT_EQ(Eval("event = 'exi'"), B(false));
  EXPECT_EQ(Eval("event = 'exits'"), B(false));
  EXPECT_EQ(Eval("event != 'exis'"), B(true));
  EXPECT_EQ(Eval("event != 'exit'"), B(false));
  EXPECT_EQ(Eval("'' = ''"), B(true));
}

TEST_F(ExprTest, NullSemantics) {
  EXPECT_TRUE(Eval("null = null").is_null());
  EXPECT_TRUE(Eval("null <> 1").is_null());
  EXPECT_TRUE(Eval("null + 1").is_null());
  EXPECT_TRUE(Eval("-null").is_null());
  EXPECT_TRUE(Eval("any > 3").is_null());
  EXPECT_EQ(Eval("null and false"), B(false));
  EXPECT_EQ(Eval("false and null"), B(false));
  EXPECT_TRUE(Eval("null and true").is_null());
  EXPECT_EQ(Eval("null or true"), B(true));
  EXPECT_EQ(Eval("true or null"), B(true));
  EXPECT_TRUE(Eval("null or false").is_null());
  EXPECT_TRUE(Eval("not null").is_null());
  EXPECT_EQ(Eval("null is null"), B(true));
  EXPECT_EQ(Eval("any is null"), B(true));
  EXPECT_EQ(Eval("any IS NOT NULL"), B(false));
  EXPECT_EQ(Eval("count is not null"), B(true));
}

TEST_F(ExprTest, In) {
  EXPECT_EQ(Eval("category in ('sleep', 'focus')"), B(true));
  EXPECT_EQ(Eval("category not in ('sleep', 'focus')"), B(false));
  EXPECT_EQ(Eval("3 in (1, 2)"), B(false));
  EXPECT_EQ(Eval("3 NOT IN (1, 2)"), B(true));
  EXPECT_EQ(Eval("1 in (1.0)"), B(true));
  EXPECT_EQ(Eval("count in (1, count, 2 + 2)"), B(true));  // items are expressions
  EXPECT_EQ(Eval("1 in (1, null)"), B(true));
  EXPECT_TRUE(Eval("3 in (1, null)").is_null());
  EXPECT_TRUE(Eval("3 not in (1, null)").is_null());
  EXPECT_TRUE(Eval("null in (1)").is_null());
}

TEST_F(ExprTest, Between) {
  EXPECT_EQ(Eval("5 between 1 and 10"), B(true));
  EXPECT_EQ(Eval("1 between 1 and 10"), B(true));  // inclusive
  EXPECT_EQ(Eval("10 between 1 and 10"), B(true));
  EXPECT_EQ(Eval("11 between 1 and 10"), B(false));
  EXPECT_EQ(Eval("11 not between 1 and 10"), B(true));
  EXPECT_EQ(Eval("'b' between 'a' and 'c'"), B(true));
  EXPECT_TRUE(Eval("5 between null and 10").is_null());
  EXPECT_EQ(Eval("50 between null and 10"), B(false));             // x <= high already fails
  EXPECT_EQ(Eval("count between 1 + 1 and 5 and flag"), B(true));  // (between) and flag
  EXPECT_EQ(Eval("count between 5 and 9 or flag"), B(true));
}

TEST_F(ExprTest, Functions) {
  EXPECT_TRUE(Eval("nullif(1, 1)").is_null());
  EXPECT_EQ(Eval("nullif(1, 2)"), I(1));
  EXPECT_EQ(Eval("nullif(null, 2)"), kNull);
  EXPECT_EQ(Eval("coalesce(null, any, 3, 4)"), I(3));
  EXPECT_TRUE(Eval("coalesce(null)").is_null());
  EXPECT_EQ(Eval("COALESCE(event, 'none')"), S("exit"));
  EXPECT_EQ(Eval("abs(-3)"), I(3));
  EXPECT_TRUE(Eval("abs(-3)").is_int());
  EXPECT_EQ(Eval("abs(-2.5)"), D(2.5));
  EXPECT_TRUE(Eval("abs(null)").is_null());
  EXPECT_EQ(Eval("least(3, 1, 2)"), I(1));
  EXPECT_EQ(Eval("greatest(3, 1, 2)"), I(3));
  EXPECT_TRUE(Eval("least(1, 2.5)").is_double());
  EXPECT_EQ(Eval("greatest(null, 2, null)"), I(2));  // nulls are ignored
  EXPECT_TRUE(Eval("greatest(null, null)").is_null());
  EXPECT_EQ(Eval("least('b', 'a')"), S("a"));
  EXPECT_EQ(Eval("lower('AbC')"), S("abc"));
  EXPECT_EQ(Eval("upper(event)"), S("EXIT"));
  EXPECT_EQ(Eval("length('h\xC3\xA9llo')"), I(5));  // code points, not bytes
  EXPECT_EQ(Eval("length(event)"), I(4));
  EXPECT_TRUE(Eval("lower(null)").is_null());
  EXPECT_EQ(Eval("if(count > 3, 'many', 'few')"), S("many"));
  EXPECT_EQ(Eval("if(null, 1, 2)"), I(2));
  EXPECT_EQ(Eval("IF(false, 1, 2)"), I(2));
}

TEST_F(ExprTest, LazyOperandsAreNotNeeded) {
  // The unused side would be null; the result shows it does not leak into the answer.
  EXPECT_EQ(Eval("false and 1 / 0 > 0"), B(false));
  EXPECT_EQ(Eval("true or 1 / 0 > 0"), B(true));
  EXPECT_EQ(Eval("coalesce(1, 1 / 0)"), I(1));
  EXPECT_EQ(Eval("if(true, 1, 1 / 0)"), I(1));
}

TEST_F(ExprTest, ProductExamples) {
  EXPECT_TRUE(Matches("event = 'exit' and category = 'sleep'"));
  EXPECT_TRUE(Matches("duration_s > 60 and category in ('sleep','focus')"));
  EXPECT_EQ(Eval("sleep_exits_10m / nullif(events_10m, 0)"), D(0.25));
  slots_[8] = I(0);
  EXPECT_TRUE(Eval("sleep_exits_10m / nullif(events_10m, 0)").is_null());
  slots_[1] = S("work");
  EXPECT_FALSE(Matches("event = 'exit' and category = 'sleep'"));
}

TEST_F(ExprTest, MatchesOnlyBooleanTrue) {
  EXPECT_TRUE(Matches("flag"));
  EXPECT_FALSE(Matches("not flag"));
  EXPECT_FALSE(Matches("any = 1"));  // null rejects
  EXPECT_FALSE(Matches("null"));
  EXPECT_FALSE(Matches("any"));
  slots_[5] = I(1);
  EXPECT_FALSE(Matches("any"));  // an int is not true
  EXPECT_TRUE(Matches("any = 1"));
}

TEST_F(ExprTest, UntypedNamesMismatchAtRunTimeGiveNull) {
  slots_[5] = I(3);
  slots_[6] = S("x");
  EXPECT_TRUE(Eval("any = 'x'").is_null());
  EXPECT_TRUE(Eval("other + 1").is_null());
  EXPECT_TRUE(Eval("other in (1, 2)").is_null());
  EXPECT_TRUE(Eval("any and true").is_null());
  EXPECT_TRUE(Eval("least(any, other)").is_null());
  EXPECT_TRUE(Eval("length(any)").is_null());
  EXPECT_EQ(Eval("any + 1"), I(4));
}

TEST_F(ExprTest, ListValuesPassThrough) {
  slots_[5] = Value::MakeList({S("a"), S("b")});
  EXPECT_EQ(Eval("any"), Value::MakeList({S("a"), S("b")}));
  EXPECT_EQ(Eval("any is null"), B(false));
  EXPECT_TRUE(Eval("any = 1").is_null());
  EXPECT_EQ(Eval("coalesce(null, any)"), Value::MakeList({S("a"), S("b")}));
}

TEST_F(ExprTest, TimestampsAreNumbers) {
  EXPECT_EQ(Eval("ts >= 1767225600000"), B(true));
  EXPECT_EQ(Eval("ts % 1000"), I(0));
  EXPECT_EQ(Error("ts = 'x'"), "column 4: cannot compare int64 with string");
}

TEST_F(ExprTest, NameErrors) {
  EXPECT_EQ(Error("categry = 'x'"), "column 1: unknown name 'categry'");
  EXPECT_EQ(Error("event = 'exit' and categry = 'sleep'"), "column 20: unknown name 'categry'");
  EXPECT_EQ(Error("Event = 'x'"), "column 1: unknown name 'Event'");  // names are case-sensitive
  EXPECT_EQ(Error("foo(1)"), "column 1: unknown function 'foo'");
  EXPECT_EQ(Error("1 + and"), "column 5: expected an expression but found 'and'");
}

TEST_F(ExprTest, LexicalErrors) {
  EXPECT_EQ(Error("'abc"), "column 1: unterminated string");
  EXPECT_EQ(Error("event = 'it''s"), "column 9: unterminated string");
  EXPECT_EQ(Error("1 # 2"), "column 3: unexpected character '#'");
  EXPECT_EQ(Error("event = \"exit\""),
            "column 9: unexpected character '\"' (strings use single quotes)");
  EXPECT_EQ(Error("1 ! 2"), "column 3: unexpected character '!'");
  EXPECT_EQ(Error("1 + \xC3\xA9"), "column 5: unexpected byte 0xC3");
  EXPECT_EQ(Error("99999999999999999999"),
            "column 1: number '99999999999999999999' is out of range");
  EXPECT_EQ(Error("1e999"), "column 1: number '1e999' is out of range");
}

TEST_F(ExprTest, SyntaxErrors) {
  EXPECT_EQ(Error(""), "column 1: expected an expression but found end of expression");
  EXPECT_EQ(Error("   "), "column 4: expected an expression but found end of expression");
  EXPECT_EQ(Error("(1 + 2"), "column 7: expected ')' but found end of expression");
  EXPECT_EQ(Error("1 +"), "column 4: expected an expression but found end of expression");
  EXPECT_EQ(Error("1 2"), "column 3: expected end of expression but found '2'");
  EXPECT_EQ(Error("1 < 2 < 3"), "column 7: expected end of expression but found '<'");
  EXPECT_EQ(Error("(1))"), "column 4: expected end of expression but found ')'");
  EXPECT_EQ(Error("event not like 'x'"),
            "column 11: expected 'in' or 'between' after 'not' but found 'like'");
  EXPECT_EQ(Error("any is 1"), "column 8: expected 'null' but found '1'");
  EXPECT_EQ(Error("any between 1 or 2"), "column 15: expected 'and' but found 'or'");
  EXPECT_EQ(Error("any in 1"), "column 8: expected '(' but found '1'");
  EXPECT_EQ(Error("any in ()"), "column 9: expected an expression but found ')'");
  EXPECT_EQ(Error("any in (1, 2"), "column 13: expected ',' or ')' but found end of expression");
  EXPECT_EQ(Error("abs(1"), "column 6: expected ',' or ')' but found end of expression");
  EXPECT_EQ(Error("1 = not flag"), "column 5: expected an expression but found 'not'");
}

TEST_F(ExprTest, ArgumentCountErrors) {
  EXPECT_EQ(Error("abs(1, 2)"), "column 1: abs() takes 1 argument but got 2");
  EXPECT_EQ(Error("nullif(1)"), "column 1: nullif() takes 2 arguments but got 1");
  EXPECT_EQ(Error("1 = coalesce()"), "column 5: coalesce() takes at least 1 argument but got 0");
  EXPECT_EQ(Error("if(true, 1)"), "column 1: if() takes 3 arguments but got 2");
}

TEST_F(ExprTest, TypeErrors) {
  EXPECT_EQ(Error("event = 1"), "column 7: cannot compare string with int64");
  EXPECT_EQ(Error("duration_s > 'long'"), "column 12: cannot compare double with string");
  EXPECT_EQ(Error("flag = 1"), "column 6: cannot compare bool with int64");
  EXPECT_EQ(Error("event in ('a', 2)"), "column 16: cannot compare string with int64");
  EXPECT_EQ(Error("count between 'a' and 5"), "column 15: cannot compare int64 with string");
  EXPECT_EQ(Error("'a' + 1"), "column 1: operator '+' needs a number but got string");
  EXPECT_EQ(Error("1 * flag"), "column 5: operator '*' needs a number but got bool");
  EXPECT_EQ(Error("-event"), "column 2: unary '-' needs a number but got string");
  EXPECT_EQ(Error("count and flag"), "column 1: 'and' needs a boolean but got int64");
  EXPECT_EQ(Error("flag or event"), "column 9: 'or' needs a boolean but got string");
  EXPECT_EQ(Error("not count"), "column 5: 'not' needs a boolean but got int64");
  EXPECT_EQ(Error("abs('x')"), "column 5: abs() needs a number but got string");
  EXPECT_EQ(Error("length(count)"), "column 8: length() needs a string but got int64");
  EXPECT_EQ(Error("if(count, 1, 2)"), "column 4: if() needs a boolean but got int64");
  EXPECT_EQ(Error("coalesce(event, 1)"), "column 1: cannot mix string and int64 in coalesce()");
  EXPECT_EQ(Error("if(flag, 'a', 2)"), "column 1: cannot mix string and int64 in if()");
  EXPECT_EQ(Error("nullif(event, 0)"), "column 1: cannot compare string with int64");
  // Open types defer the check to run time.
  EXPECT_EQ(Error("any = 1 and any = 'x' and coalesce(other, 1) > 0"), "<compiled>");
  EXPECT_EQ(Error("null = 'x' and null + 1 > 0"), "<compiled>");
}

TEST_F(ExprTest, NestingIsBounded) {
  const std::string ok = std::string(50, '(') + "1" + std::string(50, ')');
  EXPECT_EQ(Eval(ok), I(1));
  const std::string deep = std::string(1000, '(') + "1" + std::string(1000, ')');
  EXPECT_NE(Error(deep).find("nested too deeply"), std::string::npos);
  std::string long_chain = "1";
  for (int i = 0; i < 1000; ++i) long_chain += " + 1";
  EXPECT_NE(Error(long_chain).find("nested too deeply"), std::string::npos);
  EXPECT_NE(Error(std::string(1000, '-') + "1").find("nested too deeply"), std::string::npos);
}

TEST_F(ExprTest, CompileFilterRequiresBoolean) {
  Result<std::shared_ptr<const Expr>> bad = Expr::CompileFilter("duration_s + 1", Resolve);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "column 1: a filter must be a boolean expression but this one is double");
  EXPECT_TRUE(Expr::CompileFilter("flag and any", Resolve).ok());
  EXPECT_TRUE(Expr::CompileFilter("any", Resolve).ok());  // type unknown until run time
  EXPECT_FALSE(Expr::CompileFilter("categry = 'x'", Resolve).ok());
}

TEST_F(ExprTest, ReportsSlotsResultTypeAndText) {
  std::shared_ptr<const Expr> expr = MustCompile("sleep_exits_10m / nullif(events_10m, 0) + count");
  ASSERT_NE(expr, nullptr);
  EXPECT_EQ(expr->slots_used(), (std::vector<int>{3, 8, 9}));
  EXPECT_EQ(expr->result_type(), FieldType::kDouble);
  EXPECT_EQ(expr->text(), "sleep_exits_10m / nullif(events_10m, 0) + count");
  EXPECT_EQ(MustCompile("count + count * 2")->slots_used(), (std::vector<int>{3}));
  EXPECT_TRUE(MustCompile("1 + 2")->slots_used().empty());
  EXPECT_EQ(MustCompile("count + 1")->result_type(), FieldType::kInt64);
  EXPECT_EQ(MustCompile("event = 'x'")->result_type(), FieldType::kBool);
  EXPECT_EQ(MustCompile("lower(event)")->result_type(), FieldType::kString);
  EXPECT_EQ(MustCompile("any + 1")->result_type(), std::nullopt);
  EXPECT_EQ(MustCompile("coalesce(count, 1.5)")->result_type(), std::nullopt);
}

TEST_F(ExprTest, EvaluatesConcurrently) {
  std::shared_ptr<const Expr> expr = MustCompile("upper(event) = 'EXIT' and count * 2 > 5");
  ASSERT_NE(expr, nullptr);
  std::vector<int> matched(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Value> slots = slots_;
      slots[3] = I(t);  // threads 3.. match, threads 0..2 do not
      for (int i = 0; i < 10'000; ++i) matched[t] += expr->Matches(slots.data());
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(matched, (std::vector<int>{0, 0, 0, 10'000}));
}

}  // namespace
}  // namespace freshet

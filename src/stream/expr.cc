#include "stream/expr.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "core/int_math.h"

namespace freshet {

// The compiled tree. Nodes are stored children first, so the root is the last node and
// evaluation recurses over a flat, immutable vector.
struct Expr::Program {
  // The arithmetic ops and the comparison ops stay contiguous: evaluation dispatches on ranges.
  // clang-format off
  enum class Op : uint8_t {
    kConst, kSlot, kNeg, kNot, kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe,
    kAnd, kOr, kIsNull, kIn, kBetween, kNullIf, kCoalesce, kAbs, kLeast, kGreatest, kLower,
    kUpper, kLength, kIf
  };
  // clang-format on
  struct Node {
    Op op = Op::kConst;
    int slot = 0;            // kSlot
    uint32_t first_kid = 0;  // the node's children are kids[first_kid, first_kid + num_kids)
    uint32_t num_kids = 0;
    Value constant;  // kConst
  };

  const Node& root() const { return nodes.back(); }
  const Node& kid(const Node& node, uint32_t i) const { return nodes[kids[node.first_kid + i]]; }

  std::string text;
  std::vector<Node> nodes;
  std::vector<uint32_t> kids;
  std::vector<int> slots_used;
  std::optional<FieldType> result_type;
};

namespace {

using Program = Expr::Program;
using Op = Program::Op;
using Node = Program::Node;

// Bounds both parser recursion and evaluation recursion, so hostile input cannot overflow the
// stack. Real filters and derived features are a few levels deep.
constexpr int kMaxDepth = 100;

Status ErrorAt(int column, std::string_view what) {
  return Status::InvalidArgument(fmt::format("column {}: {}", column, what));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

// ---------------------------------------------------------------------------------------------
// Static types: what the compiler knows about a subexpression's value.

enum class Type : uint8_t { kUnknown, kNull, kBool, kInt, kDouble, kString };

std::string_view TypeName(Type t) {
  static constexpr std::string_view kNames[] = {"unknown", "null",   "bool",
                                                "int64",   "double", "string"};
  return kNames[static_cast<int>(t)];
}

// Whether the type may turn out to be anything at run time, so no compile-time check applies.
bool IsOpen(Type t) { return t == Type::kUnknown || t == Type::kNull; }
// Ints and doubles mix freely: both are "numbers".
Type Category(Type t) { return t == Type::kDouble ? Type::kInt : t; }
bool Compatible(Type a, Type b) { return IsOpen(a) || IsOpen(b) || Category(a) == Category(b); }

Type TypeOfField(FieldType f) {
  if (f == FieldType::kString) return Type::kString;
  if (f == FieldType::kDouble) return Type::kDouble;
  if (f == FieldType::kBool) return Type::kBool;
  return Type::kInt;  // kInt64, and kTimestamp in epoch milliseconds
}

Type TypeOfValue(const Value& v) {
  if (v.is_bool()) return Type::kBool;
  if (v.is_int()) return Type::kInt;
  if (v.is_double()) return Type::kDouble;
  if (v.is_string()) return Type::kString;
  return Type::kNull;
}

std::optional<FieldType> FieldTypeOf(Type t) {
  if (t == Type::kBool) return FieldType::kBool;
  if (t == Type::kInt) return FieldType::kInt64;
  if (t == Type::kDouble) return FieldType::kDouble;
  if (t == Type::kString) return FieldType::kString;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Lexer.

enum class TokenKind : uint8_t { kEnd, kName, kNumber, kString, kSymbol };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // as written; a string literal keeps its quotes
  int column = 0;         // 1-based
  Value literal;          // kNumber, kString
};

std::string Describe(const Token& t) {
  return t.kind == TokenKind::kEnd ? "end of expression" : fmt::format("'{}'", t.text);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

// Two-character symbols first, so "<=" is not read as "<" then "=".
constexpr std::string_view kSymbols[] = {"<=", ">=", "<>", "!=", "==", "(", ")", ",",
                                         "+",  "-",  "*",  "/",  "%",  "=", "<", ">"};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // All tokens, ending with one kEnd token.
  Result<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    for (SkipSpace(); pos_ < text_.size(); SkipSpace()) {
      ASSIGN_OR_RETURN(Token token, Next());
      tokens.push_back(std::move(token));
    }
    tokens.push_back(Make(TokenKind::kEnd, pos_));
    return tokens;
  }

 private:
  char At(size_t i) const { return i < text_.size() ? text_[i] : '\0'; }
  static int Column(size_t pos) { return static_cast<int>(pos) + 1; }

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void SkipDigits() {
    while (IsDigit(At(pos_))) ++pos_;
  }
  Token Make(TokenKind kind, size_t start, Value literal = {}) const {
    return Token{kind, text_.substr(start, pos_ - start), Column(start), std::move(literal)};
  }

  Result<Token> Next() {
    const char c = text_[pos_];
    if (IsNameStart(c)) {
      const size_t start = pos_;
      while (IsNameChar(At(pos_))) ++pos_;
      return Make(TokenKind::kName, start);
    }
    if (IsDigit(c) || (c == '.' && IsDigit(At(pos_ + 1)))) return LexNumber();
    if (c == '\'') return LexString();
    return LexSymbol();
  }

  Result<Token> LexNumber() {
    const size_t start = pos_;
    SkipDigits();
    bool is_double = false;
    if (At(pos_) == '.') {
      is_double = true;
      ++pos_;
      SkipDigits();
    }
    if (At(pos_) == 'e' || At(pos_) == 'E') {
      const size_t digits = pos_ + 1 + (At(pos_ + 1) == '+' || At(pos_ + 1) == '-');
      if (IsDigit(At(digits))) {
        is_double = true;
        pos_ = digits;
        SkipDigits();
      }
    }
    const std::string_view s = text_.substr(start, pos_ - start);
    Value literal;
    std::from_chars_result parsed;
    if (is_double) {
      double d = 0;
      parsed = std::from_chars(s.data(), s.data() + s.size(), d);
      literal = Value::Double(d);
    } else {
      int64_t i = 0;
      parsed = std::from_chars(s.data(), s.data() + s.size(), i);
      literal = Value::Int(i);
    }
    if (parsed.ec != std::errc()) {
      return ErrorAt(Column(start), fmt::format("number '{}' is out of range", s));
    }
    return Make(TokenKind::kNumber, start, std::move(literal));
  }

  Result<Token> LexString() {
    const size_t start = pos_++;
    std::string value;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c != '\'') {
        value += c;
      } else if (At(pos_) == '\'') {  // '' is an escaped quote
        value += '\'';
        ++pos_;
      } else {
        return Make(TokenKind::kString, start, Value::String(std::move(value)));
      }
    }
    return ErrorAt(Column(start), "unterminated string");
  }

  Result<Token> LexSymbol() {
    for (std::string_view symbol : kSymbols) {
      if (text_.substr(pos_).starts_with(symbol)) {
        const size_t start = pos_;
        pos_ += symbol.size();
        return Make(TokenKind::kSymbol, start);
      }
    }
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      return ErrorAt(Column(pos_), "unexpected character '\"' (strings use single quotes)");
    }
    if (std::isprint(c)) {
      return ErrorAt(Column(pos_), fmt::format("unexpected character '{}'", static_cast<char>(c)));
    }
    return ErrorAt(Column(pos_), fmt::format("unexpected byte 0x{:02X}", c));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Run-time values and the operations on them.

// A value during evaluation. Strings refer to the slot or constant they come from instead of
// copying it, so evaluation allocates only for strings that lower() and upper() build.
struct Datum {
  enum class Kind : uint8_t { kNull, kBool, kInt, kDouble, kString, kList };

  Datum() = default;
  Datum(Kind k, bool b_value, int64_t i_value, double d_value)
      : kind(k), b(b_value), i(i_value), d(d_value) {}

  std::string_view str() const { return ref; }
  bool is(Kind k) const { return kind == k; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kDouble; }
  double num() const { return kind == Kind::kInt ? static_cast<double>(i) : d; }

  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  // kString: the bytes of a slot or constant, or of a string the evaluation built (kept by
  // the Evaluator). Datum stays trivially copyable: the evaluator passes it by value.
  std::string_view ref;
  const Value* list = nullptr;  // kList: the Value holding it
};
using Kind = Datum::Kind;
static_assert(std::is_trivially_copyable_v<Datum>);

Datum Null() { return Datum{}; }
Datum Bool(bool b) { return Datum(Kind::kBool, b, 0, 0); }
Datum Int(int64_t i) { return Datum(Kind::kInt, false, i, 0); }
Datum Double(double d) { return Datum(Kind::kDouble, false, 0, d); }
// Refers to `v`, which outlives the evaluation (a slot or a constant of the program).
Datum Ref(const Value& v) {
  if (v.is_bool()) return Bool(v.as_bool());
  if (v.is_int()) return Int(v.as_int());
  if (v.is_double()) return Double(v.as_double());
  Datum r;
  if (v.is_string()) {
    r.kind = Kind::kString;
    r.ref = v.as_string();
  } else if (v.is_list()) {
    r.kind = Kind::kList;
    r.list = &v;
  }
  return r;
}

Value ToValue(Datum&& d) {
  if (d.is(Kind::kBool)) return Value::Bool(d.b);
  if (d.is(Kind::kInt)) return Value::Int(d.i);
  if (d.is(Kind::kDouble)) return Value::Double(d.d);
  if (d.is(Kind::kString)) {
    return Value::String(std::string(d.str()));
  }
  return d.is(Kind::kList) ? *d.list : Value::Null();
}

bool IsTrue(const Datum& d) { return d.is(Kind::kBool) && d.b; }

Datum IntArith(Op op, int64_t a, int64_t b) {
  int64_t r = 0;
  bool overflow = false;
  if (op == Op::kAdd) overflow = !CheckedAdd(a, b, &r);
  if (op == Op::kSub) overflow = !CheckedSub(a, b, &r);
  if (op == Op::kMul) overflow = !CheckedMul(a, b, &r);
  if (op == Op::kMod) {
    if (b == 0) return Null();
    r = b == -1 ? 0 : a % b;  // INT64_MIN % -1 overflows in C++
  }
  return overflow ? Null() : Int(r);
}

Datum DoubleArith(Op op, double a, double b) {
  if (op == Op::kAdd) return Double(a + b);
  if (op == Op::kSub) return Double(a - b);
  if (op == Op::kMul) return Double(a * b);
  if (b == 0) return Null();
  return Double(op == Op::kDiv ? a / b : std::fmod(a, b));
}

Datum Arith(Op op, const Datum& a, const Datum& b) {
  if (!a.is_number() || !b.is_number()) return Null();
  if (op != Op::kDiv && a.is(Kind::kInt) && b.is(Kind::kInt)) return IntArith(op, a.i, b.i);
  return DoubleArith(op, a.num(), b.num());
}

Datum Negate(const Datum& a) {
  if (a.is(Kind::kInt)) return a.i == INT64_MIN ? Null() : Int(-a.i);
  if (a.is(Kind::kDouble)) return Double(-a.d);
  return Null();
}

template <typename T>
std::optional<int> ThreeWay(const T& a, const T& b) {
  if (a < b) return -1;
  if (b < a) return 1;
  if (a == b) return 0;
  return std::nullopt;  // NaN
}

// The order of a and b, or nullopt when either is null or their kinds do not compare.
std::optional<int> Order(const Datum& a, const Datum& b) {
  if (a.is(Kind::kInt) && b.is(Kind::kInt)) return ThreeWay(a.i, b.i);
  if (a.is_number() && b.is_number()) return ThreeWay(a.num(), b.num());
  if (a.is(Kind::kString) && b.is(Kind::kString)) {
    const int c = a.str().compare(b.str());  // one pass over the bytes
    return (c > 0) - (c < 0);
  }
  if (a.is(Kind::kBool) && b.is(Kind::kBool)) return ThreeWay(a.b, b.b);
  return std::nullopt;
}

Datum Compare(Op op, const Datum& a, const Datum& b) {
  // Per comparison op (kEq..kGe), the orders that make it true: bit 0 less, 1 equal, 2 greater.
  static constexpr uint8_t kTrueWhen[] = {0b010, 0b101, 0b001, 0b011, 0b100, 0b110};
  if ((op == Op::kEq || op == Op::kNe) && a.is(Kind::kString) && b.is(Kind::kString)) {
    return Bool((a.str() == b.str()) == (op == Op::kEq));  // unequal lengths: no byte compared
  }
  const std::optional<int> order = Order(a, b);
  if (!order) return Null();
  const int op_index = static_cast<int>(op) - static_cast<int>(Op::kEq);
  return Bool((kTrueWhen[op_index] >> (*order + 1)) & 1);
}

Datum Not(const Datum& a) { return a.is(Kind::kBool) ? Bool(!a.b) : Null(); }

// SQL's three-valued `and` (decisive = false) and `or` (decisive = true): a side equal to the
// decisive value decides alone; otherwise any null (or non-boolean) side makes the result null.
bool Decides(const Datum& d, bool decisive) { return d.is(Kind::kBool) && d.b == decisive; }
Datum Logical(bool decisive, const Datum& left, const Datum& right) {
  if (Decides(left, decisive) || Decides(right, decisive)) return Bool(decisive);
  if (left.is(Kind::kBool) && right.is(Kind::kBool)) return Bool(!decisive);
  return Null();
}

Datum Length(const Datum& s) {
  if (!s.is(Kind::kString)) return Null();
  const std::string_view v = s.str();
  // Counts bytes that start a UTF-8 code point (anything but 10xxxxxx continuation bytes).
  return Int(std::count_if(v.begin(), v.end(),
                           [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

Datum Abs(const Datum& x) {
  if (x.is(Kind::kInt)) return x.i == INT64_MIN ? Null() : Int(x.i < 0 ? -x.i : x.i);
  if (x.is(Kind::kDouble)) return Double(std::fabs(x.d));
  return Null();
}

// ---------------------------------------------------------------------------------------------
// Evaluator: a recursive walk over the program's tree; depth is bounded by kMaxDepth.

class Evaluator {
 public:
  Evaluator(const Program& program, const Value* slots) : p_(program), slots_(slots) {}

  Datum Eval(const Node& n) const {
    switch (n.op) {
      case Op::kConst:
        return Ref(n.constant);
      case Op::kSlot:
        return Ref(slots_[n.slot]);
      case Op::kNeg:
        return Negate(Kid(n, 0));
      case Op::kNot:
        return Not(Kid(n, 0));
      case Op::kAnd:
        return EvalLogical(n, false);
      case Op::kOr:
        return EvalLogical(n, true);
      case Op::kIsNull:
        return Bool(Kid(n, 0).is(Kind::kNull));
      case Op::kIn:
        return EvalIn(n);
      case Op::kBetween:
        return EvalBetween(n);
      default:
        break;
    }
    if (n.op >= Op::kAdd && n.op <= Op::kMod) return Arith(n.op, Kid(n, 0), Kid(n, 1));
    if (n.op >= Op::kEq && n.op <= Op::kGe) return Compare(n.op, Kid(n, 0), Kid(n, 1));
    return EvalFunction(n);
  }

 private:
  Datum Kid(const Node& n, uint32_t i) const { return Eval(p_.kid(n, i)); }

  Datum EvalLogical(const Node& n, bool decisive) const {
    Datum left = Kid(n, 0);
    if (Decides(left, decisive)) return left;  // the right side is not evaluated
    return Logical(decisive, left, Kid(n, 1));
  }

  Datum EvalIn(const Node& n) const {
    const Datum x = Kid(n, 0);
    if (x.is(Kind::kNull)) return Null();
    bool unknown = false;
    for (uint32_t i = 1; i < n.num_kids; ++i) {
      const std::optional<int> order = Order(x, Kid(n, i));
      if (order == 0) return Bool(true);
      unknown |= !order.has_value();
    }
    return unknown ? Null() : Bool(false);
  }

  Datum EvalBetween(const Node& n) const {
    const Datum x = Kid(n, 0);
    return Logical(false, Compare(Op::kGe, x, Kid(n, 1)), Compare(Op::kLe, x, Kid(n, 2)));
  }

  Datum EvalFunction(const Node& n) const {
    switch (n.op) {
      case Op::kNullIf: {
        Datum a = Kid(n, 0);
        return Order(a, Kid(n, 1)) == 0 ? Null() : a;
      }
      case Op::kCoalesce:
        for (uint32_t i = 0; i < n.num_kids; ++i) {
          Datum d = Kid(n, i);
          if (!d.is(Kind::kNull)) return d;
        }
        return Null();
      case Op::kIf:
        return Kid(n, IsTrue(Kid(n, 0)) ? 1 : 2);
      case Op::kAbs:
        return Abs(Kid(n, 0));
      case Op::kLower:
        return CaseMapped(Kid(n, 0), [](int c) { return std::tolower(c); });
      case Op::kUpper:
        return CaseMapped(Kid(n, 0), [](int c) { return std::toupper(c); });
      case Op::kLength:
        return Length(Kid(n, 0));
      case Op::kLeast:
        return EvalExtremum(n, -1);
      case Op::kGreatest:
        return EvalExtremum(n, 1);
      default:
        return Null();
    }
  }

  // least (want = -1) or greatest (want = 1) of the non-null arguments.
  Datum EvalExtremum(const Node& n, int want) const {
    Datum best;
    bool any_double = false;
    for (uint32_t i = 0; i < n.num_kids; ++i) {
      Datum d = Kid(n, i);
      if (d.is(Kind::kNull)) continue;
      any_double |= d.is(Kind::kDouble);
      if (!best.is(Kind::kNull)) {
        const std::optional<int> order = Order(d, best);
        if (!order) return Null();  // kinds that do not compare
        if (*order != want) continue;
      }
      best = std::move(d);
    }
    if (any_double && best.is(Kind::kInt)) return Double(best.num());
    return best;
  }

  Datum CaseMapped(const Datum& s, int (*map)(int)) const {
    if (!s.is(Kind::kString)) return Null();
    std::string out(s.str());
    for (char& c : out) {
      if (static_cast<unsigned char>(c) < 0x80) c = static_cast<char>(map(c));
    }
    built_.push_back(std::make_unique<std::string>(std::move(out)));
    Datum r;
    r.kind = Kind::kString;
    r.ref = *built_.back();
    return r;
  }

  const Program& p_;
  const Value* slots_;
  // Strings built during this evaluation (lower, upper), referred to by Datums.
  mutable std::vector<std::unique_ptr<std::string>> built_;
};

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent that builds the program and checks static types as it goes.

struct FunctionDef {
  std::string_view name;
  Op op;
  uint32_t min_args;
  uint32_t max_args;  // kVariadic: no upper bound
};
constexpr uint32_t kVariadic = UINT32_MAX;
constexpr FunctionDef kFunctions[] = {
    {"nullif", Op::kNullIf, 2, 2},
    {"coalesce", Op::kCoalesce, 1, kVariadic},
    {"abs", Op::kAbs, 1, 1},
    {"least", Op::kLeast, 1, kVariadic},
    {"greatest", Op::kGreatest, 1, kVariadic},
    {"lower", Op::kLower, 1, 1},
    {"upper", Op::kUpper, 1, 1},
    {"length", Op::kLength, 1, 1},
    {"if", Op::kIf, 3, 3},
};

constexpr std::string_view kReserved[] = {"and",  "or",   "not",   "in",     "is",
                                          "null", "true", "false", "between"};

bool IsKeyword(const Token& t, std::string_view keyword) {
  return t.kind == TokenKind::kName && EqualsIgnoreCase(t.text, keyword);
}
bool IsSymbol(const Token& t, std::string_view symbol) {
  return t.kind == TokenKind::kSymbol && t.text == symbol;
}

// Binary operator levels, loosest first. All but kComparison associate to the left;
// comparisons do not chain.
enum class Level { kOr, kAnd, kComparison, kAdditive, kMultiplicative };

struct BinaryOpDef {
  Level level;
  std::string_view text;  // a keyword or a symbol
  Op op;
};
constexpr BinaryOpDef kBinaryOps[] = {
    {Level::kOr, "or", Op::kOr},
    {Level::kAnd, "and", Op::kAnd},
    {Level::kComparison, "=", Op::kEq},
    {Level::kComparison, "==", Op::kEq},
    {Level::kComparison, "!=", Op::kNe},
    {Level::kComparison, "<>", Op::kNe},
    {Level::kComparison, "<", Op::kLt},
    {Level::kComparison, "<=", Op::kLe},
    {Level::kComparison, ">", Op::kGt},
    {Level::kComparison, ">=", Op::kGe},
    {Level::kAdditive, "+", Op::kAdd},
    {Level::kAdditive, "-", Op::kSub},
    {Level::kMultiplicative, "*", Op::kMul},
    {Level::kMultiplicative, "/", Op::kDiv},
    {Level::kMultiplicative, "%", Op::kMod},
};

std::optional<Op> BinaryOpAt(Level level, const Token& t) {
  for (const BinaryOpDef& def : kBinaryOps) {
    if (def.level == level && (IsSymbol(t, def.text) || IsKeyword(t, def.text))) return def.op;
  }
  return std::nullopt;
}

Type ArithType(Op op, Type a, Type b) {
  if (a == Type::kNull || b == Type::kNull) return Type::kNull;
  if (op == Op::kDiv) return Type::kDouble;
  if (a == Type::kUnknown || b == Type::kUnknown) return Type::kUnknown;
  return a == Type::kInt && b == Type::kInt ? Type::kInt : Type::kDouble;
}

class ExprParser {
 public:
  ExprParser(std::vector<Token> tokens, const NameResolver& resolve, Program* program)
      : tokens_(std::move(tokens)), resolve_(resolve), program_(program) {}

  // Parses the whole expression; returns the static type of its result.
  Result<Type> Parse() {
    ASSIGN_OR_RETURN(uint32_t root, ParseLeftAssoc(Level::kOr));
    if (Peek().kind != TokenKind::kEnd) {
      return ErrorAt(Peek().column, "expected end of expression but found " + Describe(Peek()));
    }
    return types_[root];
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Take() {
    const Token& t = tokens_[pos_];
    if (t.kind != TokenKind::kEnd) ++pos_;
    return t;
  }
  bool TakeKeyword(std::string_view keyword) {
    if (!IsKeyword(Peek(), keyword)) return false;
    ++pos_;
    return true;
  }
  Status Expect(std::string_view what, bool found) {
    if (found) return Status::Ok();
    return ErrorAt(Peek().column, fmt::format("expected {} but found {}", what, Describe(Peek())));
  }

  Result<uint32_t> AddNode(Op op, const std::vector<uint32_t>& kids, Type type, int column) {
    Node node;
    node.op = op;
    return Append(std::move(node), kids, type, column);
  }
  Result<uint32_t> AddConstant(Value value, int column) {
    Node node;
    const Type type = TypeOfValue(value);
    node.constant = std::move(value);
    return Append(std::move(node), {}, type, column);
  }
  Result<uint32_t> Append(Node node, const std::vector<uint32_t>& kids, Type type, int column) {
    int depth = 1;
    for (uint32_t k : kids) depth = std::max(depth, depths_[k] + 1);
    if (depth > kMaxDepth) {
      return ErrorAt(column,
                     fmt::format("expression nested too deeply (over {} levels)", kMaxDepth));
    }
    node.first_kid = static_cast<uint32_t>(program_->kids.size());
    node.num_kids = static_cast<uint32_t>(kids.size());
    program_->kids.insert(program_->kids.end(), kids.begin(), kids.end());
    program_->nodes.push_back(std::move(node));
    types_.push_back(type);
    columns_.push_back(column);
    depths_.push_back(depth);
    return static_cast<uint32_t>(program_->nodes.size() - 1);
  }

  // Requires node `n` to be usable where `want` is needed (kInt standing for any number).
  Status RequireType(uint32_t n, Type want, std::string_view context) const {
    const Type t = types_[n];
    if (IsOpen(t) || Category(t) == want) return Status::Ok();
    const std::string_view needed = want == Type::kInt    ? "a number"
                                    : want == Type::kBool ? "a boolean"
                                                          : "a string";
    return ErrorAt(columns_[n],
                   fmt::format("{} needs {} but got {}", context, needed, TypeName(t)));
  }
  Status RequireComparable(uint32_t a, uint32_t b, int column) const {
    if (Compatible(types_[a], types_[b])) return Status::Ok();
    return ErrorAt(
        column, fmt::format("cannot compare {} with {}", TypeName(types_[a]), TypeName(types_[b])));
  }
  // Requires the nodes to be of mutually compatible types (function arguments that are compared
  // or may each be the result).
  Status RequireMixable(std::span<const uint32_t> nodes, int column, std::string_view fn) const {
    for (uint32_t a : nodes) {
      for (uint32_t b : nodes) {
        if (!Compatible(types_[a], types_[b])) {
          return ErrorAt(column, fmt::format("cannot mix {} and {} in {}()", TypeName(types_[a]),
                                             TypeName(types_[b]), fn));
        }
      }
    }
    return Status::Ok();
  }
  // The common type of `nodes`, ignoring nulls; unknown when they differ.
  Type Unify(std::span<const uint32_t> nodes) const {
    Type out = Type::kNull;
    for (uint32_t n : nodes) {
      if (types_[n] == Type::kNull) continue;
      if (out != Type::kNull && out != types_[n]) return Type::kUnknown;
      out = types_[n];
    }
    return out;
  }

  Result<uint32_t> ParseLeftAssoc(Level level) {
    if (level == Level::kOr && ++nesting_ > kMaxDepth) {
      return ErrorAt(Peek().column, "expression nested too deeply");
    }
    ASSIGN_OR_RETURN(uint32_t left, ParseOperand(level));
    while (std::optional<Op> op = BinaryOpAt(level, Peek())) {
      const Token& op_token = Take();
      ASSIGN_OR_RETURN(uint32_t right, ParseOperand(level));
      ASSIGN_OR_RETURN(left, AddBinary(*op, op_token, left, right));
    }
    if (level == Level::kOr) --nesting_;
    return left;
  }

  // An operand of a `level` operator: an expression of the next tighter level. `not` sits
  // between `and` and the comparisons; unary minus binds tightest.
  Result<uint32_t> ParseOperand(Level level) {
    if (level == Level::kOr) return ParseLeftAssoc(Level::kAnd);
    if (level == Level::kAnd) return ParsePrefixed(Op::kNot);
    if (level == Level::kComparison) return ParseLeftAssoc(Level::kAdditive);
    if (level == Level::kAdditive) return ParseLeftAssoc(Level::kMultiplicative);
    return ParsePrefixed(Op::kNeg);
  }

  Result<uint32_t> AddBinary(Op op, const Token& op_token, uint32_t left, uint32_t right) {
    Type type = Type::kBool;
    if (op == Op::kAnd || op == Op::kOr) {
      const std::string context = fmt::format("'{}'", op_token.text);
      RETURN_IF_ERROR(RequireType(left, Type::kBool, context));
      RETURN_IF_ERROR(RequireType(right, Type::kBool, context));
    } else if (op >= Op::kEq && op <= Op::kGe) {
      RETURN_IF_ERROR(RequireComparable(left, right, op_token.column));
    } else {
      const std::string context = fmt::format("operator '{}'", op_token.text);
      RETURN_IF_ERROR(RequireType(left, Type::kInt, context));
      RETURN_IF_ERROR(RequireType(right, Type::kInt, context));
      type = ArithType(op, types_[left], types_[right]);
    }
    return AddNode(op, {left, right}, type, columns_[left]);
  }

  // `not` before a comparison, or `-` before a primary; either may repeat.
  Result<uint32_t> ParsePrefixed(Op op) {
    const bool is_not = op == Op::kNot;
    std::vector<int> columns;
    while (is_not ? IsKeyword(Peek(), "not") : IsSymbol(Peek(), "-")) {
      columns.push_back(Take().column);
    }
    ASSIGN_OR_RETURN(uint32_t operand, is_not ? ParseComparison() : ParsePrimary());
    for (auto it = columns.rbegin(); it != columns.rend(); ++it) {
      RETURN_IF_ERROR(is_not ? RequireType(operand, Type::kBool, "'not'")
                             : RequireType(operand, Type::kInt, "unary '-'"));
      const Type type = is_not ? Type::kBool : types_[operand];
      ASSIGN_OR_RETURN(operand, AddNode(op, {operand}, type, *it));
    }
    return operand;
  }

  Result<uint32_t> ParseComparison() {
    ASSIGN_OR_RETURN(uint32_t left, ParseOperand(Level::kComparison));
    if (std::optional<Op> op = BinaryOpAt(Level::kComparison, Peek())) {
      const Token& op_token = Take();
      ASSIGN_OR_RETURN(uint32_t right, ParseOperand(Level::kComparison));
      return AddBinary(*op, op_token, left, right);
    }
    if (TakeKeyword("is")) {
      const bool negated = TakeKeyword("not");
      RETURN_IF_ERROR(Expect("'null'", TakeKeyword("null")));
      ASSIGN_OR_RETURN(uint32_t is_null, AddNode(Op::kIsNull, {left}, Type::kBool, columns_[left]));
      return Negated(is_null, negated);
    }
    const bool negated = TakeKeyword("not");
    if (IsKeyword(Peek(), "in")) return ParseIn(left, negated);
    if (IsKeyword(Peek(), "between")) return ParseBetween(left, negated);
    RETURN_IF_ERROR(Expect("'in' or 'between' after 'not'", !negated));
    return left;
  }

  // `x not in`, `x not between` and `x is not null` are `not` of the positive form.
  Result<uint32_t> Negated(uint32_t predicate, bool negated) {
    if (!negated) return predicate;
    return AddNode(Op::kNot, {predicate}, Type::kBool, columns_[predicate]);
  }

  Result<uint32_t> ParseIn(uint32_t left, bool negated) {
    const int column = Take().column;
    ASSIGN_OR_RETURN(std::vector<uint32_t> items, ParseParenthesizedList(/*allow_empty=*/false));
    for (uint32_t item : items) RETURN_IF_ERROR(RequireComparable(left, item, columns_[item]));
    items.insert(items.begin(), left);
    ASSIGN_OR_RETURN(uint32_t in, AddNode(Op::kIn, items, Type::kBool, column));
    return Negated(in, negated);
  }

  Result<uint32_t> ParseBetween(uint32_t left, bool negated) {
    const int column = Take().column;
    ASSIGN_OR_RETURN(uint32_t low, ParseOperand(Level::kComparison));
    RETURN_IF_ERROR(Expect("'and'", TakeKeyword("and")));
    ASSIGN_OR_RETURN(uint32_t high, ParseOperand(Level::kComparison));
    RETURN_IF_ERROR(RequireComparable(left, low, columns_[low]));
    RETURN_IF_ERROR(RequireComparable(left, high, columns_[high]));
    ASSIGN_OR_RETURN(uint32_t between,
                     AddNode(Op::kBetween, {left, low, high}, Type::kBool, column));
    return Negated(between, negated);
  }

  // "(" expr, ... ")"
  Result<std::vector<uint32_t>> ParseParenthesizedList(bool allow_empty) {
    RETURN_IF_ERROR(Expect("'('", IsSymbol(Peek(), "(")));
    Take();
    std::vector<uint32_t> items;
    if (allow_empty && IsSymbol(Peek(), ")")) {
      Take();
      return items;
    }
    while (true) {
      ASSIGN_OR_RETURN(uint32_t item, ParseLeftAssoc(Level::kOr));
      items.push_back(item);
      if (!IsSymbol(Peek(), ",")) break;
      Take();
    }
    RETURN_IF_ERROR(Expect("',' or ')'", IsSymbol(Peek(), ")")));
    Take();
    return items;
  }

  Result<uint32_t> ParsePrimary() {
    const Token& t = Take();
    if (t.kind == TokenKind::kNumber || t.kind == TokenKind::kString) {
      return AddConstant(t.literal, t.column);
    }
    if (IsSymbol(t, "(")) {
      ASSIGN_OR_RETURN(uint32_t inner, ParseLeftAssoc(Level::kOr));
      RETURN_IF_ERROR(Expect("')'", IsSymbol(Peek(), ")")));
      Take();
      return inner;
    }
    if (t.kind == TokenKind::kName) {
      if (IsKeyword(t, "true") || IsKeyword(t, "false")) {
        return AddConstant(Value::Bool(IsKeyword(t, "true")), t.column);
      }
      if (IsKeyword(t, "null")) return AddConstant(Value::Null(), t.column);
      const bool reserved = std::any_of(std::begin(kReserved), std::end(kReserved),
                                        [&](std::string_view k) { return IsKeyword(t, k); });
      if (!reserved) return IsSymbol(Peek(), "(") ? ParseCall(t) : ParseName(t);
    }
    return ErrorAt(t.column, "expected an expression but found " + Describe(t));
  }

  Result<uint32_t> ParseName(const Token& t) {
    const std::optional<ResolvedName> resolved = resolve_(t.text);
    if (!resolved) return ErrorAt(t.column, fmt::format("unknown name '{}'", t.text));
    const Type type = resolved->type ? TypeOfField(*resolved->type) : Type::kUnknown;
    Node node;
    node.op = Op::kSlot;
    node.slot = resolved->slot;
    return Append(std::move(node), {}, type, t.column);
  }

  Result<uint32_t> ParseCall(const Token& name) {
    const FunctionDef* f = nullptr;
    for (const FunctionDef& def : kFunctions) {
      if (EqualsIgnoreCase(def.name, name.text)) f = &def;
    }
    if (f == nullptr) return ErrorAt(name.column, fmt::format("unknown function '{}'", name.text));
    ASSIGN_OR_RETURN(std::vector<uint32_t> args, ParseParenthesizedList(/*allow_empty=*/true));
    if (args.size() < f->min_args || args.size() > f->max_args) {
      return ErrorAt(name.column,
                     fmt::format("{}() takes {}{} argument{} but got {}", f->name,
                                 f->max_args == kVariadic ? "at least " : "", f->min_args,
                                 f->min_args == 1 ? "" : "s", args.size()));
    }
    ASSIGN_OR_RETURN(Type type, CheckCall(*f, args, name.column));
    return AddNode(f->op, args, type, name.column);
  }

  // Checks the argument types of a call; returns its result type.
  Result<Type> CheckCall(const FunctionDef& f, std::span<const uint32_t> args, int column) const {
    const std::string context = fmt::format("{}()", f.name);
    switch (f.op) {
      case Op::kNullIf:
        RETURN_IF_ERROR(RequireComparable(args[0], args[1], column));
        return types_[args[0]];
      case Op::kAbs:
        RETURN_IF_ERROR(RequireType(args[0], Type::kInt, context));
        return types_[args[0]];
      case Op::kLength:
        RETURN_IF_ERROR(RequireType(args[0], Type::kString, context));
        return Type::kInt;
      case Op::kLower:
      case Op::kUpper:
        RETURN_IF_ERROR(RequireType(args[0], Type::kString, context));
        return Type::kString;
      case Op::kIf:
        RETURN_IF_ERROR(RequireType(args[0], Type::kBool, context));
        args = args.subspan(1);
        break;
      default:  // coalesce, least, greatest
        break;
    }
    RETURN_IF_ERROR(RequireMixable(args, column, f.name));
    return Unify(args);
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const NameResolver& resolve_;
  Program* program_;
  int nesting_ = 0;
  // Per node, parallel to program_->nodes; needed only while compiling.
  std::vector<Type> types_;
  std::vector<int> columns_;  // where the node's text starts (or its operator), for errors
  std::vector<int> depths_;
};

}  // namespace

Result<std::shared_ptr<const Expr>> Expr::Compile(std::string_view text,
                                                  const NameResolver& resolve) {
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Lexer(text).Run());
  auto program = std::make_unique<Program>();
  program->text = std::string(text);
  ASSIGN_OR_RETURN(Type type, ExprParser(std::move(tokens), resolve, program.get()).Parse());
  program->result_type = FieldTypeOf(type);
  for (const Node& node : program->nodes) {
    if (node.op == Op::kSlot) program->slots_used.push_back(node.slot);
  }
  std::vector<int>& slots = program->slots_used;
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return std::shared_ptr<const Expr>(new Expr(std::move(program)));
}

Result<std::shared_ptr<const Expr>> Expr::CompileFilter(std::string_view text,
                                                        const NameResolver& resolve) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Expr> expr, Compile(text, resolve));
  const std::optional<FieldType> type = expr->result_type();
  if (type && *type != FieldType::kBool) {
    return ErrorAt(1, fmt::format("a filter must be a boolean expression but this one is {}",
                                  FieldTypeName(*type)));
  }
  return expr;
}

Expr::Expr(std::unique_ptr<const Program> program) : program_(std::move(program)) {}
Expr::~Expr() = default;

Value Expr::Eval(const Value* slots) const {
  return ToValue(Evaluator(*program_, slots).Eval(program_->root()));
}

bool Expr::Matches(const Value* slots) const {
  return IsTrue(Evaluator(*program_, slots).Eval(program_->root()));
}

const std::vector<int>& Expr::slots_used() const { return program_->slots_used; }
std::optional<FieldType> Expr::result_type() const { return program_->result_type; }
const std::string& Expr::text() const { return program_->text; }

}  // namespace freshet

#include "policy/cel/parser.h"

#include <array>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "common/utf8.h"
#include "policy/cel/internal/lexer.h"

namespace sov::policy::cel {
namespace {

using internal::Lexer;
using internal::Tok;
using internal::Token;
using ExprPtr = std::unique_ptr<Expr>;

// Thrown inside the parser only, and caught in Parse(): unwinding is the simplest way out of a
// deep recursive descent, and no exception leaves this file.
struct SyntaxError {
  uint32_t offset;
  std::string message;
};

constexpr std::array<std::string_view, 17> kReserved = {
    "as", "break", "const", "continue", "else", "for", "function", "if", "import",
    "let", "loop", "package", "namespace", "return", "var", "void", "while"};

bool IsReserved(std::string_view name) {
  for (std::string_view r : kReserved) {
    if (r == name) return true;
  }
  return false;
}

std::string Describe(const Token& t) {
  if (t.kind == Tok::kEof) return "end of expression";
  std::string text(t.text.substr(0, 32));
  return "'" + text + "'";
}

class Parser {
 public:
  Parser(std::string_view source, const ParseOptions& options) : lexer_(source), options_(options) {
    Advance();
  }

  ExprPtr ParseTop() {
    ExprPtr e = ParseExpr();
    if (cur_.kind != Tok::kEof) Fail(cur_.offset, "unexpected " + Describe(cur_));
    return e;
  }

 private:
  [[noreturn]] void Fail(uint32_t offset, std::string message) {
    throw SyntaxError{offset, std::move(message)};
  }

  void Advance() {
    cur_ = lexer_.Next();
    if (cur_.kind == Tok::kError) Fail(cur_.offset, cur_.error);
  }

  void Expect(Tok kind, std::string_view what) {
    if (cur_.kind != kind) {
      Fail(cur_.offset, "expected " + std::string(what) + " but found " + Describe(cur_));
    }
    Advance();
  }

  ExprPtr Node(ExprKind kind, uint32_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  // Records the height of `e` from its children and refuses trees deeper than the limit.
  ExprPtr Finish(ExprPtr e) {
    int32_t h = 0;
    if (e->target) h = e->target->height;
    for (const auto& a : e->args) h = std::max(h, a->height);
    e->height = h + 1;
    if (e->height > options_.max_depth) {
      Fail(e->offset, "expression nested too deeply (the limit is " +
                          std::to_string(options_.max_depth) + " levels)");
    }
    return e;
  }

  ExprPtr Call(std::string name, uint32_t offset, std::vector<ExprPtr> args, ExprPtr target = nullptr) {
    ExprPtr e = Node(ExprKind::kCall, offset);
    e->name = std::move(name);
    e->target = std::move(target);
    e->args = std::move(args);
    return Finish(std::move(e));
  }

  ExprPtr Binary(const char* name, uint32_t offset, ExprPtr l, ExprPtr r) {
    std::vector<ExprPtr> args;
    args.push_back(std::move(l));
    args.push_back(std::move(r));
    return Call(name, offset, std::move(args));
  }

  ExprPtr ParseExpr() {
    if (++depth_ > options_.max_depth) {
      Fail(cur_.offset, "expression nested too deeply (the limit is " +
                            std::to_string(options_.max_depth) + " levels)");
    }
    ExprPtr cond = ParseOr();
    if (cur_.kind == Tok::kQuestion) {
      uint32_t offset = cur_.offset;
      Advance();
      ExprPtr a = ParseOr();
      Expect(Tok::kColon, "':'");
      ExprPtr b = ParseExpr();
      std::vector<ExprPtr> args;
      args.push_back(std::move(cond));
      args.push_back(std::move(a));
      args.push_back(std::move(b));
      cond = Call("_?_:_", offset, std::move(args));
    }
    --depth_;
    return cond;
  }

  ExprPtr ParseOr() {
    ExprPtr l = ParseAnd();
    while (cur_.kind == Tok::kOr) {
      uint32_t offset = cur_.offset;
      Advance();
      l = Binary("_||_", offset, std::move(l), ParseAnd());
    }
    return l;
  }

  ExprPtr ParseAnd() {
    ExprPtr l = ParseRelation();
    while (cur_.kind == Tok::kAnd) {
      uint32_t offset = cur_.offset;
      Advance();
      l = Binary("_&&_", offset, std::move(l), ParseRelation());
    }
    return l;
  }

  ExprPtr ParseRelation() {
    ExprPtr l = ParseCalc();
    while (true) {
      const char* name;
      switch (cur_.kind) {
        case Tok::kEq: name = "_==_"; break;
        case Tok::kNe: name = "_!=_"; break;
        case Tok::kLt: name = "_<_"; break;
        case Tok::kLe: name = "_<=_"; break;
        case Tok::kGt: name = "_>_"; break;
        case Tok::kGe: name = "_>=_"; break;
        case Tok::kIn: name = "@in"; break;
        default: return l;
      }
      uint32_t offset = cur_.offset;
      Advance();
      l = Binary(name, offset, std::move(l), ParseCalc());
    }
  }

  ExprPtr ParseCalc() {
    ExprPtr l = ParseMul();
    while (cur_.kind == Tok::kPlus || cur_.kind == Tok::kMinus) {
      const char* name = cur_.kind == Tok::kPlus ? "_+_" : "_-_";
      uint32_t offset = cur_.offset;
      Advance();
      l = Binary(name, offset, std::move(l), ParseMul());
    }
    return l;
  }

  ExprPtr ParseMul() {
    ExprPtr l = ParseUnary();
    while (cur_.kind == Tok::kStar || cur_.kind == Tok::kSlash || cur_.kind == Tok::kPercent) {
      const char* name = cur_.kind == Tok::kStar ? "_*_" : cur_.kind == Tok::kSlash ? "_/_" : "_%_";
      uint32_t offset = cur_.offset;
      Advance();
      l = Binary(name, offset, std::move(l), ParseUnary());
    }
    return l;
  }

  ExprPtr ParseUnary() {
    if (cur_.kind == Tok::kNot) {
      std::vector<uint32_t> ops;
      while (cur_.kind == Tok::kNot) {
        ops.push_back(cur_.offset);
        Advance();
      }
      ExprPtr e = ParseMember();
      for (size_t i = ops.size(); i-- > 0;) {
        std::vector<ExprPtr> args;
        args.push_back(std::move(e));
        e = Call("!_", ops[i], std::move(args));
      }
      return e;
    }
    if (cur_.kind == Tok::kMinus) {
      std::vector<uint32_t> ops;
      while (cur_.kind == Tok::kMinus) {
        ops.push_back(cur_.offset);
        Advance();
      }
      ExprPtr e;
      if (cur_.kind == Tok::kInt || cur_.kind == Tok::kDouble) {
        // A minus directly before a number is part of the literal, so that
        // -9223372036854775808 is the smallest int rather than an overflow.
        ExprPtr lit = Node(ExprKind::kConst, ops.back());
        if (cur_.kind == Tok::kDouble) {
          lit->constant = Value::Double(-cur_.value.double_value());
        } else if (cur_.int_min_magnitude) {
          lit->constant = Value::Int(std::numeric_limits<int64_t>::min());
        } else {
          lit->constant = Value::Int(-cur_.value.int_value());
        }
        ops.pop_back();
        Advance();
        e = ParseMemberSuffix(Finish(std::move(lit)));
      } else {
        e = ParseMember();
      }
      for (size_t i = ops.size(); i-- > 0;) {
        std::vector<ExprPtr> args;
        args.push_back(std::move(e));
        e = Call("-_", ops[i], std::move(args));
      }
      return e;
    }
    return ParseMember();
  }

  ExprPtr ParseMember() { return ParseMemberSuffix(ParsePrimary()); }

  static bool QualifiedName(const Expr& e, std::string* out) {
    if (e.kind == ExprKind::kIdent) {
      *out = e.name;
      return true;
    }
    if (e.kind == ExprKind::kSelect && !e.test_only && QualifiedName(*e.target, out)) {
      *out += ".";
      *out += e.name;
      return true;
    }
    return false;
  }

  std::vector<ExprPtr> ParseArgs() {
    Expect(Tok::kLParen, "'('");
    std::vector<ExprPtr> args;
    if (cur_.kind != Tok::kRParen) {
      args.push_back(ParseExpr());
      while (cur_.kind == Tok::kComma) {
        Advance();
        args.push_back(ParseExpr());
      }
    }
    Expect(Tok::kRParen, "')' or ','");
    return args;
  }

  ExprPtr ParseMemberSuffix(ExprPtr e) {
    while (true) {
      if (cur_.kind == Tok::kDot) {
        Advance();
        uint32_t offset = cur_.offset;
        if (cur_.kind == Tok::kQuotedIdent) {
          ExprPtr s = Node(ExprKind::kSelect, offset);
          s->name = std::string(cur_.text);
          s->target = std::move(e);
          Advance();
          e = Finish(std::move(s));
          continue;
        }
        if (cur_.kind != Tok::kIdent && cur_.kind != Tok::kIn && cur_.kind != Tok::kTrue &&
            cur_.kind != Tok::kFalse && cur_.kind != Tok::kNull) {
          Fail(cur_.offset, "expected a field or method name after '.' but found " + Describe(cur_));
        }
        std::string name(cur_.text);
        Advance();
        if (cur_.kind == Tok::kLParen) {
          std::vector<ExprPtr> args = ParseArgs();
          e = MethodCall(std::move(name), offset, std::move(e), std::move(args));
        } else {
          ExprPtr s = Node(ExprKind::kSelect, offset);
          s->name = std::move(name);
          s->target = std::move(e);
          e = Finish(std::move(s));
        }
      } else if (cur_.kind == Tok::kLBracket) {
        uint32_t offset = cur_.offset;
        Advance();
        ExprPtr index = ParseExpr();
        Expect(Tok::kRBracket, "']'");
        e = Binary("_[_]", offset, std::move(e), std::move(index));
      } else if (cur_.kind == Tok::kLBrace) {
        std::string type_name;
        if (!QualifiedName(*e, &type_name)) return e;
        e = ParseMessage(std::move(type_name), e->offset);
      } else {
        return e;
      }
    }
  }

  ExprPtr MethodCall(std::string name, uint32_t offset, ExprPtr target, std::vector<ExprPtr> args) {
    Macro macro = Macro::kNone;
    if (options_.enable_macros) {
      if (name == "all" && args.size() == 2) macro = Macro::kAll;
      else if (name == "exists" && args.size() == 2) macro = Macro::kExists;
      else if (name == "exists_one" && args.size() == 2) macro = Macro::kExistsOne;
      else if (name == "map" && args.size() == 2) macro = Macro::kMap;
      else if (name == "map" && args.size() == 3) macro = Macro::kMapFilter;
      else if (name == "filter" && args.size() == 2) macro = Macro::kFilter;
    }
    if (macro == Macro::kNone) return Call(std::move(name), offset, std::move(args), std::move(target));
    const Expr& var = *args[0];
    if (var.kind != ExprKind::kIdent || var.name.empty() || var.name[0] == '.') {
      Fail(var.offset, "the first argument of " + name + "() must be a simple variable name");
    }
    ExprPtr c = Node(ExprKind::kComprehension, offset);
    c->macro = macro;
    c->name = var.name;
    c->target = std::move(target);
    for (size_t i = 1; i < args.size(); ++i) c->args.push_back(std::move(args[i]));
    return Finish(std::move(c));
  }

  ExprPtr ParseMessage(std::string type_name, uint32_t offset) {
    Expect(Tok::kLBrace, "'{'");
    ExprPtr m = Node(ExprKind::kMessage, offset);
    m->name = std::move(type_name);
    while (cur_.kind != Tok::kRBrace) {
      if (cur_.kind != Tok::kIdent && cur_.kind != Tok::kQuotedIdent) {
        Fail(cur_.offset, "expected a field name but found " + Describe(cur_));
      }
      m->field_names.emplace_back(cur_.text);
      Advance();
      Expect(Tok::kColon, "':'");
      m->args.push_back(ParseExpr());
      if (cur_.kind != Tok::kComma) break;
      Advance();
    }
    Expect(Tok::kRBrace, "'}'");
    return Finish(std::move(m));
  }

  ExprPtr ParsePrimary() {
    const uint32_t offset = cur_.offset;
    switch (cur_.kind) {
      case Tok::kInt:
        if (cur_.int_min_magnitude) Fail(offset, "integer literal out of range");
        [[fallthrough]];
      case Tok::kUint:
      case Tok::kDouble:
      case Tok::kString:
      case Tok::kBytes: {
        ExprPtr e = Node(ExprKind::kConst, offset);
        e->constant = cur_.value;
        Advance();
        return Finish(std::move(e));
      }
      case Tok::kTrue:
      case Tok::kFalse:
      case Tok::kNull: {
        ExprPtr e = Node(ExprKind::kConst, offset);
        e->constant = cur_.kind == Tok::kNull ? Value::Null() : Value::Bool(cur_.kind == Tok::kTrue);
        Advance();
        return Finish(std::move(e));
      }
      case Tok::kDot:
      case Tok::kIdent: {
        std::string name;
        if (cur_.kind == Tok::kDot) {
          Advance();
          if (cur_.kind != Tok::kIdent) Fail(cur_.offset, "expected a name after '.' but found " + Describe(cur_));
          name = ".";
        }
        if (IsReserved(cur_.text)) Fail(cur_.offset, "'" + std::string(cur_.text) + "' is a reserved word");
        name += cur_.text;
        Advance();
        if (cur_.kind == Tok::kLParen) {
          std::vector<ExprPtr> args = ParseArgs();
          if (name == "has" && options_.enable_macros) {
            if (args.size() != 1 || args[0]->kind != ExprKind::kSelect || args[0]->test_only) {
              Fail(offset, "has() takes one field selection, e.g. has(request.purpose)");
            }
            ExprPtr s = std::move(args[0]);
            s->test_only = true;
            return s;
          }
          return Call(std::move(name), offset, std::move(args));
        }
        ExprPtr e = Node(ExprKind::kIdent, offset);
        e->name = std::move(name);
        return Finish(std::move(e));
      }
      case Tok::kLParen: {
        Advance();
        ExprPtr e = ParseExpr();
        Expect(Tok::kRParen, "')'");
        return e;
      }
      case Tok::kLBracket: {
        Advance();
        ExprPtr list = Node(ExprKind::kList, offset);
        while (cur_.kind != Tok::kRBracket) {
          list->args.push_back(ParseExpr());
          if (cur_.kind != Tok::kComma) break;
          Advance();
        }
        Expect(Tok::kRBracket, "']' or ','");
        return Finish(std::move(list));
      }
      case Tok::kLBrace: {
        Advance();
        ExprPtr map = Node(ExprKind::kMap, offset);
        while (cur_.kind != Tok::kRBrace) {
          map->args.push_back(ParseExpr());
          Expect(Tok::kColon, "':'");
          map->args.push_back(ParseExpr());
          if (cur_.kind != Tok::kComma) break;
          Advance();
        }
        Expect(Tok::kRBrace, "'}' or ','");
        return Finish(std::move(map));
      }
      default:
        Fail(offset, "unexpected " + Describe(cur_));
    }
  }

  Lexer lexer_;
  const ParseOptions& options_;
  Token cur_;
  int depth_ = 0;
};

}  // namespace

Result<std::unique_ptr<Expr>> Parse(std::string_view source, const ParseOptions& options) {
  if (source.size() > options.max_source_bytes) {
    return InvalidArgument("1:1: expression too long (" + std::to_string(source.size()) +
                           " bytes; the limit is " + std::to_string(options.max_source_bytes) + ")");
  }
  if (size_t bad = InvalidUtf8Offset(source); bad != source.size()) {
    SourcePosition p = internal::PositionAt(source, static_cast<uint32_t>(bad));
    return InvalidArgument(std::to_string(p.line) + ":" + std::to_string(p.column) +
                           ": expression is not valid UTF-8");
  }
  try {
    Parser parser(source, options);
    return parser.ParseTop();
  } catch (const SyntaxError& e) {
    SourcePosition p = internal::PositionAt(source, e.offset);
    return InvalidArgument(std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + e.message);
  }
}

bool SplitPosition(std::string_view message, SourcePosition* position, std::string_view* text) {
  int32_t line = 0, column = 0;
  const char* begin = message.data();
  const char* end = begin + message.size();
  auto r1 = std::from_chars(begin, end, line);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ':' || line <= 0) return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, column);
  if (r2.ec != std::errc() || end - r2.ptr < 2 || r2.ptr[0] != ':' || r2.ptr[1] != ' ' || column <= 0) {
    return false;
  }
  *position = SourcePosition{line, column};
  *text = std::string_view(r2.ptr + 2, static_cast<size_t>(end - r2.ptr - 2));
  return true;
}

}  // namespace sov::policy::cel

// Shows that CEL expressions evaluate to the values, and fail with the errors and positions, that the CEL specification defines, within the engine's limits.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "policy/cel/program.h"
#include "policy/cel/value.h"

namespace sov::policy::cel {
namespace {

Value Eval(std::string_view source, const Activation& activation = Activation(),
           const CompileOptions& options = CompileOptions()) {
  Result<Program> p = Compile(source, options);
  if (!p.ok()) return Value::Error(p.status().code(), "compile: " + p.status().message());
  return p->Evaluate(activation);
}

// Renders a result for comparison: the value in CEL syntax, or "error L:C: message".
std::string Show(const Value& v) {
  if (v.is_error()) return "error " + FormatError(v.error());
  return v.DebugString();
}

std::string ShowEval(std::string_view source, const Activation& activation = Activation()) {
  return Show(Eval(source, activation));
}

bool True(std::string_view source, const Activation& activation = Activation()) {
  Value v = Eval(source, activation);
  EXPECT_TRUE(v.is_bool()) << source << " -> " << Show(v);
  return v.is_true();
}

void ExpectErrorAt(std::string_view source, std::string_view want, const Activation& a = Activation()) {
  Value v = Eval(source, a);
  ASSERT_TRUE(v.is_error()) << source << " -> " << Show(v);
  std::string got = FormatError(v.error());
  EXPECT_EQ(got.substr(0, want.size()), want) << source << " -> " << got;
}

TEST(CelEval, Literals) {
  EXPECT_EQ(ShowEval("[1, 2u, 3.5, 'x', b'y', true, null]"), R"([1, 2u, 3.5, "x", b"y", true, null])");
  EXPECT_EQ(ShowEval("{'a': 1, 2: [3]}"), R"({"a": 1, 2: [3]})");
  EXPECT_EQ(ShowEval("0xFFu"), "255u");
  EXPECT_EQ(ShowEval("'''tri'ple'''"), R"("tri'ple")");
}

TEST(CelEval, Arithmetic) {
  EXPECT_EQ(ShowEval("7 / 2"), "3");
  EXPECT_EQ(ShowEval("-7 % 3"), "-1");
  EXPECT_EQ(ShowEval("7u - 2u"), "5u");
  EXPECT_EQ(ShowEval("1.5 * 2.0"), "3.0");
  EXPECT_EQ(ShowEval("'ab' + 'cd'"), R"("abcd")");
  EXPECT_EQ(ShowEval("[1] + [2]"), "[1, 2]");
  EXPECT_EQ(ShowEval("1.0 / 0.0"), "inf");
  ExpectErrorAt("9223372036854775807 + 1", "1:21: int overflow");
  ExpectErrorAt("-9223372036854775808 - 1", "1:22: int overflow");
  ExpectErrorAt("5000000000 * 5000000000", "1:12: int overflow");
  ExpectErrorAt("-(-9223372036854775808)", "1:1: int overflow");
  ExpectErrorAt("0u - 1u", "1:4: uint overflow");
  ExpectErrorAt("18446744073709551615u + 1u", "1:23: uint overflow");
  ExpectErrorAt("1 / 0", "1:3: division by zero");
  ExpectErrorAt("1 %\n 0", "1:3: modulus by zero");
  ExpectErrorAt("1 + 1.0", "1:3: no such overload: _+_(int, double)");
  EXPECT_EQ(Eval("9223372036854775807 + 1").error().code, StatusCode::kOutOfRange);
}

TEST(CelEval, HeterogeneousNumericComparison) {
  EXPECT_TRUE(True("1 == 1.0 && 1u == 1 && 1.0 == 1u"));
  EXPECT_TRUE(True("-1 < 0u && 1u < 2.5 && 3.0 > 2"));
  EXPECT_TRUE(True("18446744073709551615u > 9223372036854775807"));
  EXPECT_FALSE(True("0.0 / 0.0 == 0.0 / 0.0"));
  EXPECT_TRUE(True("[1, 2.0] == [1u, 2]"));
  EXPECT_TRUE(True("{1: 'a'} == {1u: 'a'}"));
  EXPECT_FALSE(True("1 == 'a'"));  // different types are unequal, not an error
  EXPECT_TRUE(True("'a' < 'b' && b'a' < b'b' && false < true"));
  ExpectErrorAt("'a' < 1", "1:5: no such overload: _<_(string, int)");
  ExpectErrorAt("[1] < [2]", "1:5: no such overload");
}

TEST(CelEval, LogicAbsorbsErrorsCommutatively) {
  EXPECT_EQ(ShowEval("false && 1/0 == 1"), "false");
  EXPECT_EQ(ShowEval("1/0 == 1 && false"), "false");
  EXPECT_EQ(ShowEval("true || 1/0 == 1"), "true");
  EXPECT_EQ(ShowEval("1/0 == 1 || true"), "true");
  ExpectErrorAt("1/0 == 1 && true", "1:2: division by zero");
  ExpectErrorAt("true && 'x'", "1:6: no such overload: _&&_(string)");
  ExpectErrorAt("!1", "1:1: no such overload: !_(int)");
  EXPECT_EQ(ShowEval("true ? 1 : 1/0"), "1");
  ExpectErrorAt("1 ? 2 : 3", "1:3: no such overload: _?_:_(int)");
}

TEST(CelEval, IndexingMembershipAndFields) {
  EXPECT_EQ(ShowEval("[1, 2, 3][1]"), "2");
  EXPECT_EQ(ShowEval("[1, 2, 3][2u]"), "3");
  EXPECT_EQ(ShowEval("{'a': {'b': 5}}.a.b"), "5");
  EXPECT_EQ(ShowEval("{'a': 1}['a']"), "1");
  EXPECT_EQ(ShowEval("{1: 'x'}[1.0]"), R"("x")");
  EXPECT_TRUE(True("2 in [1, 2] && 'a' in {'a': 1} && !(3 in [1, 2])"));
  ExpectErrorAt("[1, 2][5]", "1:7: index out of bounds: 5");
  ExpectErrorAt("{'a': 1}.b", "1:10: no such key: 'b'");
  ExpectErrorAt("{'a': 1}['b']", "1:9: no such key: \"b\"");
  ExpectErrorAt("1.b", "1:3: type 'int' does not support field selection");
  ExpectErrorAt("{1.5: 1}", "1:1: unsupported key type double");
  ExpectErrorAt("{1: 1, 1u: 2}", "1:1: repeated map key 1u");
}

TEST(CelEval, Has) {
  Activation a;
  a.Bind("request", Value::Struct("sov.Request", {{"purpose", Value::String("research")}}));
  EXPECT_TRUE(True("has(request.purpose)", a));
  EXPECT_FALSE(True("has(request.tenant)", a));
  EXPECT_TRUE(True("has({'a': 1}.a) && !has({'a': 1}.b)"));
  ExpectErrorAt("has([1].a)", "1:9: has() does not apply to type 'list'");
  ExpectErrorAt("request.tenant", "1:9: no such field 'tenant' in sov.Request", a);
  EXPECT_EQ(ShowEval("type(request)", a), "sov.Request");
}

TEST(CelEval, Macros) {
  EXPECT_EQ(ShowEval("[1, 2, 3].all(x, x > 0)"), "true");
  EXPECT_EQ(ShowEval("[1, 2, 3].exists(x, x > 2)"), "true");
  EXPECT_EQ(ShowEval("[1, 2, 3].exists_one(x, x > 1)"), "false");
  EXPECT_EQ(ShowEval("[1, 2, 3].map(x, x * 2)"), "[2, 4, 6]");
  EXPECT_EQ(ShowEval("[1, 2, 3].map(x, x > 1, x * 10)"), "[20, 30]");
  EXPECT_EQ(ShowEval("[1, 2, 3].filter(x, x != 2)"), "[1, 3]");
  EXPECT_EQ(ShowEval("{'a': 1, 'b': 2}.map(k, k)"), R"(["a", "b"])");
  EXPECT_EQ(ShowEval("[[1, 2], [3]].map(l, l.map(x, x + 1))"), "[[2, 3], [4]]");
  // all() is a chain of &&: a false decides even after an error.
  EXPECT_EQ(ShowEval("[0, 1].all(x, 1 / x == 2)"), "false");
  ExpectErrorAt("[0, 1].all(x, 1 / x > 0)", "1:17: division by zero");
  ExpectErrorAt("[0, 1].map(x, 1 / x)", "1:17: division by zero");
  ExpectErrorAt("1.all(x, true)", "1:3: no such overload: comprehension over(int)");
}

TEST(CelEval, StringFunctions) {
  EXPECT_TRUE(True("size('héllo') == 5 && size(b'ab') == 2 && size([1]) == 1 && 'abc'.size() == 3"));
  EXPECT_TRUE(True("'hello'.contains('ell') && 'hello'.startsWith('he') && 'hello'.endsWith('lo')"));
  EXPECT_TRUE(True("'eu-west-1'.matches('^eu-[a-z]+-[0-9]$')"));
  EXPECT_TRUE(True("matches('abc', 'b')"));
  Activation a;
  a.Bind("pattern", Value::String("("));
  ExpectErrorAt("'x'.matches(pattern)", "1:5: invalid regular expression", a);
  Result<Program> bad = Compile("'x'.matches('(')");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().substr(0, 37), "1:13: invalid regular expression: mis");
}

TEST(CelEval, Conversions) {
  EXPECT_EQ(ShowEval("int('42') + int(2.9) + int(3u)"), "47");
  EXPECT_EQ(ShowEval("uint(42)"), "42u");
  EXPECT_EQ(ShowEval("double(1) + double('2.5')"), "3.5");
  EXPECT_EQ(ShowEval("string(1.5) + string(2) + string(3u) + string(true)"), R"("1.523true")");
  EXPECT_EQ(ShowEval("string(1e21)"), R"("1e+21")");
  EXPECT_EQ(ShowEval("bytes('a')"), R"(b"a")");
  EXPECT_EQ(ShowEval("bool('true')"), "true");
  EXPECT_EQ(ShowEval("type(1) == int && type('a') == string && type(type(1)) == type"), "true");
  EXPECT_EQ(ShowEval("dyn(1)"), "1");
  ExpectErrorAt("int(1e20)", "1:1: int() range error");
  ExpectErrorAt("uint(-1)", "1:1: uint() range error");
  ExpectErrorAt("int('x')", "1:1: int() cannot convert string 'x'");
  ExpectErrorAt("string(b'\\xff')", "1:1: string() of bytes that are not valid UTF-8");
}

TEST(CelEval, TimestampsAndDurations) {
  EXPECT_EQ(ShowEval("timestamp('2024-02-29T12:00:00+01:00')"), R"(timestamp("2024-02-29T11:00:00Z"))");
  EXPECT_EQ(ShowEval("duration('1h30m') + duration('90s')"), R"(duration("5490s"))");
  EXPECT_EQ(ShowEval("timestamp('2024-01-01T00:00:00Z') + duration('24h')"), R"(timestamp("2024-01-02T00:00:00Z"))");
  EXPECT_EQ(ShowEval("timestamp('2024-01-02T00:00:00Z') - timestamp('2024-01-01T00:00:00Z')"), R"(duration("86400s"))");
  EXPECT_EQ(ShowEval("timestamp('2024-01-01T00:00:00Z') - duration('1.5s')"), R"(timestamp("2023-12-31T23:59:58.5Z"))");
  EXPECT_TRUE(True("timestamp('2024-01-01T00:00:00Z') < timestamp('2024-01-01T00:00:01Z')"));
  EXPECT_TRUE(True("duration('1m') > duration('59s')"));
  EXPECT_EQ(ShowEval("int(timestamp('1970-01-02T00:00:00Z'))"), "86400");
  EXPECT_EQ(ShowEval("timestamp(86400)"), R"(timestamp("1970-01-02T00:00:00Z"))");
  EXPECT_EQ(ShowEval("string(duration('-1.5s'))"), R"("-1.5s")");
  const char* t = "timestamp('2024-03-10T23:45:30.250Z')";
  EXPECT_EQ(ShowEval(std::string(t) + ".getFullYear()"), "2024");
  EXPECT_EQ(ShowEval(std::string(t) + ".getMonth()"), "2");
  EXPECT_EQ(ShowEval(std::string(t) + ".getDate()"), "10");
  EXPECT_EQ(ShowEval(std::string(t) + ".getDayOfMonth()"), "9");
  EXPECT_EQ(ShowEval(std::string(t) + ".getDayOfWeek()"), "0");
  EXPECT_EQ(ShowEval(std::string(t) + ".getDayOfYear()"), "69");
  EXPECT_EQ(ShowEval(std::string(t) + ".getHours()"), "23");
  EXPECT_EQ(ShowEval(std::string(t) + ".getMinutes()"), "45");
  EXPECT_EQ(ShowEval(std::string(t) + ".getSeconds()"), "30");
  EXPECT_EQ(ShowEval(std::string(t) + ".getMilliseconds()"), "250");
  EXPECT_EQ(ShowEval(std::string(t) + ".getHours('+02:00')"), "1");
  EXPECT_EQ(ShowEval(std::string(t) + ".getDate('-01:00')"), "10");
  EXPECT_EQ(ShowEval("duration('3h5m').getMinutes()"), "185");
  ExpectErrorAt(std::string(t) + ".getHours('Mars/Olympus')", "1:");
  // Non-canonical spellings of a real zone are refused, so they cannot fill the zone cache.
  ExpectErrorAt(std::string(t) + ".getHours('Europe//Berlin')", "1:");
  ExpectErrorAt(std::string(t) + ".getHours('Europe/Berlin/')", "1:");
  ExpectErrorAt(std::string(t) + ".getHours('./Europe/Berlin')", "1:");
  ExpectErrorAt("timestamp('2024-13-01T00:00:00Z')", "1:1: invalid timestamp");
  ExpectErrorAt("timestamp('10000-01-01T00:00:00Z')", "1:1: timestamp out of range");
  ExpectErrorAt("timestamp('9999-12-31T23:59:59Z') + duration('1s')", "1:35: timestamp out of range");
  ExpectErrorAt("duration('1x')", "1:1: invalid duration");
  ExpectErrorAt("duration('10000000000s')", "1:1: duration out of range");
}

TEST(CelEval, TimeZonesFromTheSystemDatabase) {
  // Skipped quietly where the machine has no zoneinfo files.
  Value v = Eval("timestamp('2024-07-01T12:00:00Z').getHours('Europe/Berlin')");
  if (v.is_error()) GTEST_SKIP() << "no /usr/share/zoneinfo: " << v.error().message;
  EXPECT_EQ(Show(v), "14");
  EXPECT_EQ(ShowEval("timestamp('2024-01-01T12:00:00Z').getHours('Europe/Berlin')"), "13");
}

TEST(CelEval, VariablesAndQualifiedNames) {
  Value principal = Value::StringMap(std::map<std::string, Value>{
      {"roles", Value::StringList({"ml-engineer", "reviewer"})},
      {"jurisdiction", Value::String("DE")}});
  Activation a;
  a.BindRef("principal", &principal);
  a.Bind("now", Value::FromTime(std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))));
  EXPECT_TRUE(True("'reviewer' in principal.roles && principal.jurisdiction == 'DE'", a));
  EXPECT_TRUE(True("now > timestamp('2023-01-01T00:00:00Z')", a));
  ExpectErrorAt("principal.tenant == 'x'", "1:11: no such key: 'tenant'", a);
  ExpectErrorAt("artifact.name", "1:10: undeclared reference to 'artifact.name'", a);
  Activation q;
  q.Bind("a.b", Value::StringMap(std::map<std::string, std::string>{{"c", "from map"}}));
  EXPECT_EQ(ShowEval("a.b.c", q), R"("from map")");
  q.Bind("a.b.c", Value::String("whole name"));
  EXPECT_EQ(ShowEval("a.b.c", q), R"("whole name")");
  // Comprehension variables shadow bindings.
  Activation x;
  x.Bind("x", Value::Int(100));
  EXPECT_EQ(ShowEval("[1].map(x, x + 1)", x), "[2]");
}

TEST(CelEval, DeclaredVariablesAndFunctionsAreCheckedAtCompileTime) {
  CompileOptions options;
  options.declared_variables = {"principal", "artifact", "request", "now"};
  EXPECT_TRUE(Compile("principal.roles.exists(r, r == 'admin')", options).ok());
  Result<Program> p = Compile("principal.x &&\n  reqest.purpose == 'x'", options);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().substr(0, 35), "2:3: undeclared variable 'reqest' (");
  p = Compile("sizee(principal)");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "1:1: unknown function 'sizee'");
  p = Compile("'a'.contains()");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "1:5: no overload of contains() takes 0 argument(s) with a receiver");
  p = Compile("Foo{a: 1}");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().substr(0, 27), "1:1: message construction (");
  options.check_functions = false;
  EXPECT_EQ(Show(Compile("f(1) || true", options)->Evaluate(Activation())), "true");
}

TEST(CelEval, EvaluateBool) {
  Activation a;
  a.Bind("eval", Value::StringMap(std::map<std::string, Value>{{"accuracy", Value::Double(0.97)}}));
  Result<Program> gate = Compile("eval.accuracy >= 0.95");
  ASSERT_TRUE(gate.ok());
  Result<bool> r = gate->EvaluateBool(a);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  Result<bool> missing = Compile("eval.fairness <= 0.05")->EvaluateBool(a);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "1:6: no such key: 'fairness'");
  Result<bool> not_bool = Compile("1")->EvaluateBool(a);
  ASSERT_FALSE(not_bool.ok());
  EXPECT_EQ(not_bool.status().message(), "1:1: expression evaluated to int, not bool");
}

TEST(CelEval, CostBudgetRefusesHugeWork) {
  CompileOptions options;
  options.cost_limit = 10000;
  Activation a;
  std::vector<Value> big(5000, Value::Int(1));
  a.Bind("big", Value::List(big));
  Value v = Eval("big.map(x, big.map(y, x + y)).size() > 0", a, options);
  ASSERT_TRUE(v.is_error());
  EXPECT_EQ(v.error().code, StatusCode::kResourceExhausted);
  EXPECT_EQ(FormatError(v.error()).substr(0, 60), "1:25: evaluation cost limit of 10000 steps exceeded (is a co");
  // An exhausted budget is not absorbed by || or &&.
  v = Eval("big.all(x, big.all(y, x == y)) || true", a, options);
  ASSERT_TRUE(v.is_error());
  EXPECT_EQ(v.error().code, StatusCode::kResourceExhausted);
  // A large concatenation is charged by size before anything is allocated.
  a.Bind("s", Value::String(std::string(1 << 20, 'a')));
  v = Eval("s + s + s", a, options);
  ASSERT_TRUE(v.is_error());
  EXPECT_EQ(v.error().code, StatusCode::kResourceExhausted);
  // Within the budget the same work succeeds.
  EXPECT_EQ(ShowEval("[1, 2, 3].map(x, [1, 2].map(y, x * y))"), "[[1, 2], [2, 4], [3, 6]]");
}

TEST(CelEval, ValuesFromPlainData) {
  Result<Value> m = Value::Map({{Value::String("a"), Value::Int(1)}, {Value::Int(1), Value::Bool(true)}});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->Find(Value::Uint(1))->bool_value(), true);
  EXPECT_EQ(m->FindField("a")->int_value(), 1);
  Result<Value> dup = Value::Map({{Value::Int(1), Value::Int(1)}, {Value::Double(1.0), Value::Int(2)}});
  EXPECT_FALSE(dup.ok());
  Result<Value> dup2 = Value::Map({{Value::Int(1), Value::Int(1)}, {Value::Uint(1), Value::Int(2)}});
  EXPECT_FALSE(dup2.ok());
  EXPECT_TRUE(Value::Timestamp(kMaxTimestampSeconds + 1).is_error());
  // Large maps use a sorted index; lookups still work for every key.
  std::map<std::string, Value> many;
  for (int i = 0; i < 100; ++i) many["k" + std::to_string(i)] = Value::Int(i);
  Value big = Value::StringMap(many);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(big.FindField("k" + std::to_string(i))->int_value(), i);
  EXPECT_EQ(big.FindField("nope"), nullptr);
}

TEST(CelEval, ConcurrentEvaluationOfOneProgram) {
  Result<Program> p = Compile("principal.roles.exists(r, r == 'admin') && size(principal.name) > 2");
  ASSERT_TRUE(p.ok());
  Value principal = Value::StringMap(std::map<std::string, Value>{
      {"roles", Value::StringList({"user", "admin"})}, {"name", Value::String("alice")}});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Activation a;
      a.BindRef("principal", &principal);
      for (int i = 0; i < 2000; ++i) ok += p->Evaluate(a).is_true();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8000);
}

}  // namespace
}  // namespace sov::policy::cel

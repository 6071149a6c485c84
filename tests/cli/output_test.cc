// Shows the shape of sovctl's text output and its one-line error reports.
#include "cli/output.h"

#include <sstream>

#include <gtest/gtest.h>

namespace sov::cli {
namespace {

// Values line up in one column after the longest key; empty values leave no trailing space.
TEST(FormatKeyValues, AlignsValues) {
  EXPECT_EQ(FormatKeyValues({{"tenant_id", "acme"}, {"roles", "a, b"}, {"empty", ""}}),
            "tenant_id: acme\n"
            "roles:     a, b\n"
            "empty:\n");
  EXPECT_EQ(FormatKeyValues({}), "");
}

// A local error is one line without a code; an RPC error carries the canonical code name.
TEST(ReportErrors, OneLineWithCodeForRpcOnly) {
  std::ostringstream err;
  EXPECT_EQ(ReportLocalError(err, NotFound("cannot open x: No such file")), kExitFailure);
  EXPECT_EQ(err.str(), "sovctl: error: cannot open x: No such file\n");

  err.str("");
  EXPECT_EQ(ReportRpcError(err, StatusCode::kUnauthenticated, "bad token\nsecond line"),
            kExitFailure);
  EXPECT_EQ(err.str(), "sovctl: error: UNAUTHENTICATED: bad token second line\n");
}

// A usage error names the command whose --help to read and exits 2.
TEST(ReportErrors, UsageErrorHintsAtHelp) {
  std::ostringstream err;
  EXPECT_EQ(ReportUsageError(err, "sign-blob", "give FILE"), kExitUsage);
  EXPECT_EQ(err.str(), "sovctl: error: give FILE\nRun 'sovctl sign-blob --help' for usage.\n");
}

// JSON output is one indented document ending in a newline.
TEST(WriteJson, OneDocumentPerCall) {
  std::ostringstream out;
  WriteJson(out, {{"a", 1}});
  EXPECT_EQ(out.str(), "{\n  \"a\": 1\n}\n");
}

// Table columns are padded to the widest cell, two spaces apart, with no trailing spaces.
TEST(FormatTable, PadsColumns) {
  EXPECT_EQ(FormatTable({"NAME", "VERSION", "STAGE"},
                        {{"acme-ml/fraud/classifier", "1.4.0", "released"}, {"a/b", "10.0.0-rc.1", ""}}),
            "NAME                      VERSION      STAGE\n"
            "acme-ml/fraud/classifier  1.4.0        released\n"
            "a/b                       10.0.0-rc.1\n");
  EXPECT_EQ(FormatTable({"A", "B"}, {}), "A  B\n");
  EXPECT_EQ(FormatTable({"A", "B"}, {{"x"}}), "A  B\nx\n");
}

}  // namespace
}  // namespace sov::cli

// Shows `sovctl eval run` end to end against the built sovctl and the scikit-learn digits
// fixtures (tests/gpu-eval/fixtures, made by examples/gpu-eval/make_digits_fixture.py): the text
// summary, the JSON report with sklearn's own accuracy, --report, and the errors for a malformed
// model, a dataset that does not fit and a CUDA backend asked for where there is no GPU.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/sha256.h"
#include "gpu-eval/devices.h"
#include "tests/cli/sovctl_process.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::ReadTestFile;
using ::sov::cli::testing::SovctlFixture;
using ::sov::cli::testing::SovctlRun;
using ::sov::cli::testing::WriteTestFile;
using ::testing::HasSubstr;

// Short latency runs: the test is about the command, not the timings.
const std::vector<std::string> kQuick = {"--backend", "cpu", "--threads", "1", "--min-seconds",
                                         "0",         "--batch-size", "1", "--batch-size", "32"};

class SovctlEvalTest : public SovctlFixture {
 protected:
  void SetUp() override {
    SovctlFixture::SetUp();
    if (HasFatalFailure()) return;
    const std::string fixtures = SourceDir() + "/tests/gpu-eval/fixtures/";
    for (const char* name : {"digits-mlp.safetensors", "digits-test.safetensors"}) {
      std::filesystem::copy_file(fixtures + name, dir_.Join(name));
    }
    expected_ = nlohmann::json::parse(ReadTestFile(fixtures + "digits-expected.json"));
  }

  static std::vector<std::string> Args(std::vector<std::string> head) {
    head.insert(head.end(), kQuick.begin(), kQuick.end());
    return head;
  }

  nlohmann::json expected_;
};

TEST_F(SovctlEvalTest, JsonReportHasScikitLearnsAccuracyAndTheFileDigests) {
  SovctlRun run = Sovctl(Args({"eval", "run", "digits-mlp.safetensors", "digits-test.safetensors",
                               "--output", "json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");  // no progress line when stderr is not a terminal
  nlohmann::json report = nlohmann::json::parse(run.out);
  EXPECT_EQ(report["schema"], "https://sovereign.dev/eval-report/v1");
  // Equal as counts of correct predictions: the same rows, so the same double.
  EXPECT_EQ(report["quality"]["accuracy"].get<double>(), expected_["score"].get<double>());
  EXPECT_NEAR(report["quality"]["logLoss"].get<double>(), expected_["logLoss"].get<double>(),
              1e-5);
  EXPECT_EQ(report["subject"]["rows"], expected_["rows"]);
  EXPECT_EQ(report["subject"]["modelDigest"],
            crypto::Sha256File(dir_.Join("digits-mlp.safetensors"))->ToString());
  EXPECT_EQ(report["conditions"]["backendKind"], "cpu");
  EXPECT_EQ(report["determinism"]["deterministic"], true);
  ASSERT_EQ(report["performance"]["latency"].size(), 2u);
  EXPECT_EQ(report["performance"]["latency"][1]["batch"], 32);
}

TEST_F(SovctlEvalTest, TextSummaryAndReportFile) {
  SovctlRun run = Sovctl(Args({"eval", "run", "digits-mlp.safetensors", "digits-test.safetensors",
                               "--report", "report.json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.2f%%", expected_["score"].get<double>() * 100.0);
  EXPECT_THAT(run.out, HasSubstr(std::string("accuracy:") ));
  EXPECT_THAT(run.out, HasSubstr(accuracy));
  EXPECT_THAT(run.out, HasSubstr("deterministic:"));
  EXPECT_THAT(run.out, HasSubstr("BATCH"));
  nlohmann::json report = nlohmann::json::parse(ReadTestFile(dir_.Join("report.json")));
  EXPECT_EQ(report["quality"]["accuracy"].get<double>(), expected_["score"].get<double>());
}

TEST_F(SovctlEvalTest, MalformedModelIsRefusedNamingTheFile) {
  std::string bytes = ReadTestFile(dir_.Join("digits-mlp.safetensors"));
  bytes.resize(bytes.size() - 100);  // the last tensor's data runs past the end
  WriteTestFile(dir_.Join("truncated.safetensors"), bytes);
  SovctlRun run =
      Sovctl(Args({"eval", "run", "truncated.safetensors", "digits-test.safetensors"}));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("sovctl: error: truncated.safetensors"));
  EXPECT_EQ(run.out, "");
}

TEST_F(SovctlEvalTest, DatasetThatDoesNotFitTheModelIsRefused) {
  // The model read as a dataset: no `features` tensor.
  SovctlRun run = Sovctl(Args({"eval", "run", "digits-mlp.safetensors", "digits-mlp.safetensors"}));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("features"));
}

TEST_F(SovctlEvalTest, CudaBackendWithoutAGpuSaysWhy) {
  gpu_eval::DeviceList devices = gpu_eval::ListDevices();
  if (!devices.devices.empty()) {
    std::printf("a CUDA device is present (%s): the no-GPU error cannot be shown here\n",
                devices.devices[0].name.c_str());
    SovctlRun run = Sovctl({"eval", "run", "digits-mlp.safetensors", "digits-test.safetensors",
                            "--backend", "cuda", "--min-seconds", "0", "--output", "json"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(nlohmann::json::parse(run.out)["conditions"]["backendKind"], "cuda");
    return;
  }
  SovctlRun run = Sovctl({"eval", "run", "digits-mlp.safetensors", "digits-test.safetensors",
                          "--backend", "cuda"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("sovctl: error:"));
  EXPECT_THAT(run.err, HasSubstr("CUDA"));
}

TEST_F(SovctlEvalTest, UnknownBackendIsAUsageError) {
  SovctlRun run = Sovctl({"eval", "run", "digits-mlp.safetensors", "digits-test.safetensors",
                          "--backend", "tpu"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--backend"));
}

}  // namespace
}  // namespace sov::cli

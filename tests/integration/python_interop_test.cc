// Shows that a tenant client written in Python (Debian's python3-grpcio with stubs generated
// from proto/sov/v1) lists and fetches a model that the C++ side pushed and released, over mTLS
// as partner-us, and gets exactly the bytes pushed, with a manifest that verifies.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/registry_client.h"

namespace sov {
namespace {

using ::testing::HasSubstr;
using sov::testing::Describe;
using sov::testing::MakeSpec;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kModel[] = "acme-ml/fraud/model";

std::string StubsDir() { return sov::testing::BuildPath("tests/integration/pystubs"); }

// Whether /usr/bin/python3 has grpc and the stubs are there; *why says what is missing.
bool PythonClientAvailable(std::string* why) {
  if (::access(kPython, X_OK) != 0) {
    *why = std::string(kPython) + " is not installed";
    return false;
  }
  auto probe = sov::testing::RunProcess({kPython, "-c", "import grpc, google.protobuf"},
                                        sov::testing::MinimalEnvironment());
  if (probe.exit_code != 0) {
    *why = "Debian's python3-grpcio is not installed: " + probe.err;
    return false;
  }
  if (!std::filesystem::exists(StubsDir() + "/sov/v1/registry_pb2_grpc.py") ||
      !std::filesystem::exists(StubsDir() + "/registry_client.py")) {
    *why = "the sov.v1 Python stubs were not generated (grpc_python_plugin missing)";
    return false;
  }
  return true;
}

TEST(PythonInteropTest, PythonTenantFetchesAReleasedModelWithTheDigestPushed) {
  std::string why;
  if (!PythonClientAvailable(&why)) GTEST_SKIP() << why;

  sov::testing::DevGateway gateway;
  gateway.RemoveReleaseGates();
  std::string error;
  ASSERT_TRUE(gateway.Start(&error)) << error;
  std::unique_ptr<sov::testing::RegistryClient> acme = gateway.Client("acme-ml");
  grpc::Status status = acme->Push(
      MakeSpec(v1::ARTIFACT_KIND_DATASET, "acme-ml/fraud/transactions", "1.0.0",
               v1::CLASSIFICATION_INTERNAL),
      sov::testing::RandomBytes(100 * 1024, 5));
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::ArtifactSpec model =
      MakeSpec(v1::ARTIFACT_KIND_MODEL, kModel, "1.0.0", v1::CLASSIFICATION_INTERNAL);
  sov::testing::AddLineage(model, "acme-ml/fraud/transactions", "1.0.0");
  // Larger than one Fetch chunk, so the Python side reassembles several.
  const std::string bytes = sov::testing::RandomBytes((2 << 20) + 12345, 6);
  v1::PushResponse pushed;
  status = acme->Push(model, bytes, &pushed);
  ASSERT_TRUE(status.ok()) << Describe(status);
  const std::string digest = sov::testing::DigestOf(bytes);
  ASSERT_EQ(pushed.artifact().digest(), digest);
  v1::ReleaseResponse released;
  status = acme->Release(kModel, "1.0.0", &released);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(released.artifact().stage(), v1::STAGE_RELEASED);
  acme.reset();

  const std::string hex = digest.substr(std::string("sha256:").size());
  auto result = sov::testing::RunProcess(
      {kPython, StubsDir() + "/registry_client.py", "--addr", gateway.address(), "--ca",
       gateway.File("ca.pem"), "--cert", gateway.File("clients/partner-us.pem"), "--key",
       gateway.File("clients/partner-us.key"), "--name", kModel, "--expect-sha256", hex,
       "--registry-key", gateway.File("signing.pub"), "--stubs", StubsDir()},
      sov::testing::MinimalEnvironment());
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("listed acme-ml/fraud/model@1.0.0 STAGE_RELEASED " + digest));
  EXPECT_THAT(result.out, HasSubstr("fetched acme-ml/fraud/model@1.0.0: " +
                                    std::to_string(bytes.size()) + " bytes"));
  EXPECT_THAT(result.out, HasSubstr("digest matches the pushed bytes"));
  EXPECT_THAT(result.out, HasSubstr("manifest signature verifies with the registry key"));
  std::cout << result.out;

  // The same client with a wrong expectation fails: the check is real.
  auto wrong = sov::testing::RunProcess(
      {kPython, StubsDir() + "/registry_client.py", "--addr", gateway.address(), "--ca",
       gateway.File("ca.pem"), "--cert", gateway.File("clients/partner-us.pem"), "--key",
       gateway.File("clients/partner-us.key"), "--name", kModel, "--expect-sha256",
       std::string(64, '0'), "--stubs", StubsDir()},
      sov::testing::MinimalEnvironment());
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  EXPECT_THAT(wrong.err, HasSubstr("differs from the expected"));
  EXPECT_TRUE(gateway.Stop()) << gateway.sovd()->Stderr();
}

}  // namespace
}  // namespace sov

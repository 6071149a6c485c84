// The gRPC methods of the sov.v1 API that sovd serves, each with the policy action
// (sov::policy::KnownActions) that decides whether a caller may run it. Every handler passes
// its GuardedMethod to CallGuard::Run; a method without an entry here cannot be served. The
// standard health and reflection services are not listed: they are authenticated but not
// decided by the policy (docs/operations.md says why). Constants; thread-safe.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace sov::gateway {

struct GuardedMethod {
  std::string_view name;    // full gRPC method name, e.g. "/sov.v1.IdentityService/WhoAmI"
  std::string_view action;  // the policy action, e.g. "identity.whoami"
};

inline constexpr GuardedMethod kWhoAmIMethod{"/sov.v1.IdentityService/WhoAmI",
                                             "identity.whoami"};

inline constexpr std::array<GuardedMethod, 1> kGuardedMethods = {kWhoAmIMethod};

}  // namespace sov::gateway

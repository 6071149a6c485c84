// The example policy (examples/policy.yaml) embedded at build time, which `sovd --dev` writes
// into its data directory; embedded so that an installed sovd needs no source tree.
#pragma once

namespace sov::gateway::internal {

extern const char kDevPolicyYaml[];

}  // namespace sov::gateway::internal

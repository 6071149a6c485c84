// The development environment that `sovd --dev --data-dir DIR` creates on first start, so that
// a new user can run the gateway and call it at once: a dev CA, a server certificate for
// localhost/127.0.0.1/::1, client certificates for three example tenants (acme-ml, compliance,
// partner-us) in DIR/clients/, a master key, the registry signing key, a bearer token for
// acme-ml (DIR/clients/acme-ml.token; only its hash goes into tenants.yaml), tenants.yaml, the
// example policy.yaml, sovd.yaml, and, once the port is known, sovctl.yaml. Later starts reuse
// all of it. Not thread-safe: one sovd owns its DIR.
#pragma once

#include <string>

#include "common/status.h"
#include "gateway/listen_address.h"

namespace sov::gateway {

struct DevEnvironment {
  std::string dir;          // absolute
  std::string config_file;  // DIR/sovd.yaml
  bool created = false;     // true on the first start, when everything was just made
};

// Returns DIR's environment, creating it first when DIR is missing or empty. FAILED_PRECONDITION
// when DIR holds files but no sovd.yaml (an unrelated directory, or an interrupted first start);
// the failing call's status otherwise.
Result<DevEnvironment> PrepareDevEnvironment(const std::string& dir);

// After sovd listens: when sovd.yaml still says port 0 (first start), writes the chosen port
// into it so that later starts keep it, and (re)writes DIR/sovctl.yaml for `address`.
Status RecordDevAddress(const DevEnvironment& env, const ListenAddress& address);

// Returns the lines sovd prints after its ready line in dev mode: how to point sovctl at it.
std::string DevInstructions(const DevEnvironment& env, const ListenAddress& address, bool mtls);

}  // namespace sov::gateway

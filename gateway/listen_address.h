// The address sovd listens on, "HOST:PORT" as written in its config ("127.0.0.1:7443",
// "[::1]:7443", "localhost:0", "0.0.0.0:7443"), and the loopback test that --insecure-loopback
// depends on. Plain values and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sov::gateway {

struct ListenAddress {
  std::string host;  // without IPv6 brackets: "127.0.0.1", "::1", "localhost", "0.0.0.0"
  uint16_t port = 0;  // 0 lets the kernel choose a free port

  // Returns "HOST:PORT" with brackets around an IPv6 host, the form gRPC takes.
  std::string ToString() const;
  // Returns this address with a different port.
  ListenAddress WithPort(uint16_t p) const { return ListenAddress{host, p}; }
  // True for 127.0.0.0/8, ::1 and "localhost": addresses no other machine can reach.
  bool IsLoopback() const;
};

// Parses "HOST:PORT" or "[IPV6]:PORT"; INVALID_ARGUMENT saying what is wrong otherwise.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace sov::gateway

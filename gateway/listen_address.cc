#include "gateway/listen_address.h"

#include <arpa/inet.h>
#include <charconv>

namespace sov::gateway {

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool ListenAddress::IsLoopback() const {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z is IPv4 loopback written as IPv6.
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const std::string shown = "'" + std::string(text) + "'";
  ListenAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("listen address " + shown + " must look like [IPV6]:PORT");
    }
    address.host = std::string(text.substr(1, close - 1));
    in6_addr v6{};
    if (inet_pton(AF_INET6, address.host.c_str(), &v6) != 1) {
      return InvalidArgument("listen address " + shown + ": '" + address.host +
                             "' is not an IPv6 address");
    }
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument("listen address " + shown + " has no port; write HOST:PORT, e.g. 127.0.0.1:7443");
    }
    address.host = std::string(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos) {
      return InvalidArgument("listen address " + shown + ": put an IPv6 address in brackets, e.g. [::1]:7443");
    }
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty()) {
    return InvalidArgument("listen address " + shown + " has no host; write e.g. 127.0.0.1:7443 or 0.0.0.0:7443");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return InvalidArgument("listen address " + shown + ": port must be a number from 0 to 65535");
  }
  address.port = static_cast<uint16_t>(port);
  return address;
}

}  // namespace sov::gateway

// Shows how listen addresses parse and which of them count as loopback for --insecure-loopback.
#include "gateway/listen_address.h"

#include <gtest/gtest.h>

namespace sov::gateway {
namespace {

TEST(ListenAddressTest, ParsesHostAndPort) {
  // IPv4, a name, and bracketed IPv6; ToString gives gRPC's form back.
  auto v4 = ParseListenAddress("127.0.0.1:7443");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7443);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:0");
  EXPECT_EQ(ParseListenAddress("localhost:9")->ToString(), "localhost:9");
}

TEST(ListenAddressTest, RejectsMalformedAddresses) {
  // No port, no host, bad port, unbracketed IPv6, bad IPv6.
  for (const char* bad : {"127.0.0.1", ":7443", "host:", "host:x", "host:65536", "::1:7443",
                          "[::1]", "[nothex]:1", ""}) {
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
}

TEST(ListenAddressTest, LoopbackIsOnly127SlashEightV6LoopbackAndLocalhost) {
  // Every 127/8 address, ::1 and localhost are loopback; wildcard and public are not.
  for (const char* yes : {"127.0.0.1:1", "127.1.2.3:1", "[::1]:1", "localhost:1",
                          "[::ffff:127.0.0.1]:1"}) {
    EXPECT_TRUE(ParseListenAddress(yes)->IsLoopback()) << yes;
  }
  for (const char* no : {"0.0.0.0:1", "[::]:1", "10.0.0.1:1", "128.0.0.1:1",
                         "example.com:1", "localhost.example.com:1"}) {
    EXPECT_FALSE(ParseListenAddress(no)->IsLoopback()) << no;
  }
}

}  // namespace
}  // namespace sov::gateway

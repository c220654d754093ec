// `[probe]`: where /probe may connect, by name before DNS and by every
// resolved address after it.
#include "ocsp_staple_exporter/probe/probe_policy.h"

#include <gtest/gtest.h>

namespace ose {
namespace {

using asio::ip::make_address;
using asio::ip::tcp;

ProbePattern P(const char* text) {
  auto p = ParseProbePattern(text);
  EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.error().detail);
  return p.ok() ? p.value() : ProbePattern{};
}

std::vector<tcp::endpoint> At(std::initializer_list<const char*> addresses) {
  std::vector<tcp::endpoint> out;
  for (const char* a : addresses) out.emplace_back(make_address(a), 443);
  return out;
}

TEST(ProbePattern, CidrsAndHostPorts) {
  EXPECT_TRUE(P("10.0.0.0/8").Contains(make_address("10.200.3.4")));
  EXPECT_FALSE(P("10.0.0.0/8").Contains(make_address("11.0.0.1")));
  EXPECT_TRUE(P("10.1.2.3").Contains(make_address("10.1.2.3")));
  EXPECT_FALSE(P("10.1.2.3").Contains(make_address("10.1.2.4")));
  EXPECT_TRUE(P("0.0.0.0/0").Contains(make_address("203.0.113.9")));
  EXPECT_FALSE(P("0.0.0.0/0").Contains(make_address("2001:db8::1")));
  // IPv4-mapped IPv6 is the IPv4 address it carries.
  EXPECT_TRUE(P("169.254.0.0/16").Contains(make_address("::ffff:169.254.169.254")));
  EXPECT_TRUE(P("2001:db8::/32").Contains(make_address("2001:db8:ffff::1")));
  EXPECT_FALSE(P("2001:db8::/32").Contains(make_address("2001:db9::1")));
  EXPECT_TRUE(P("fe80::/10").Contains(make_address("febf::1")));
  EXPECT_FALSE(P("fe80::/10").Contains(make_address("fec0::1")));

  EXPECT_TRUE(P("*.example.net:443").Matches("www.Example.NET", 443));
  EXPECT_TRUE(P("*.example.net:443").Matches("a.b.example.net", 443));
  EXPECT_FALSE(P("*.example.net:443").Matches("example.net", 443)) << "not the domain itself";
  EXPECT_FALSE(P("*.example.net:443").Matches("badexample.net", 443));
  EXPECT_FALSE(P("*.example.net:443").Matches("www.example.net", 8443));
  EXPECT_TRUE(P("example.net:*").Matches("example.net", 8443));
  EXPECT_TRUE(P("[::1]:443").Matches("::1", 443));
  EXPECT_FALSE(P("10.0.0.0/8").Matches("10.0.0.1", 443));

  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0.0/x", "host", "host:0",
                          "host:99999", "*:443", "a.*.net:443", "foo/8", "ho st:443"}) {
    EXPECT_FALSE(ParseProbePattern(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseProbePattern("10.0.0.0/33").error().detail,
            "\"10.0.0.0/33\": prefix length must be 0-32");
}

TEST(ProbePolicy, DefaultsRefuseOnlyLinkLocalAndMetadata) {
  ProbePolicy p;
  EXPECT_TRUE(p.CheckName("example.net", 443).ok());
  EXPECT_TRUE(p.CheckAddresses("example.net", 443, At({"203.0.113.5", "2001:db8::5"})).ok());
  for (const char* meta : {"169.254.169.254", "fe80::1", "fd00:ec2::254", "100.100.100.200",
                           "::ffff:169.254.169.254"}) {
    auto r = p.CheckAddresses("metadata.internal", 80, At({meta}));
    ASSERT_FALSE(r.ok()) << meta;
    EXPECT_EQ(r.error().reason, "forbidden");
    EXPECT_NE(r.error().detail.find("link-local or cloud metadata"), std::string::npos);
  }
  // One bad address among good ones refuses the name: the probe may use any.
  auto mixed = p.CheckAddresses("rebind.example", 443, At({"203.0.113.5", "169.254.169.254"}));
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().detail,
            "rebind.example:443 resolves to 169.254.169.254, a link-local or cloud metadata "
            "address (169.254.0.0/16); allow it with a [probe] allow CIDR");
  // Explicitly allowed, it passes.
  p.allow = {P("169.254.169.254/32")};
  EXPECT_TRUE(p.CheckAddresses("metadata.internal", 80, At({"169.254.169.254"})).ok());
}

TEST(ProbePolicy, DenyAndAllowLists) {
  ProbePolicy p;
  p.deny = {P("10.0.0.0/8"), P("*.internal.example:*")};
  auto name = p.CheckName("db.internal.example", 5432);
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.error().detail,
            "db.internal.example:5432 is denied by [probe] deny \"*.internal.example:*\"");
  auto addr = p.CheckAddresses("innocent.example", 443, At({"10.9.9.9"}));
  ASSERT_FALSE(addr.ok());
  EXPECT_EQ(addr.error().detail,
            "innocent.example:443 resolves to 10.9.9.9, denied by [probe] deny \"10.0.0.0/8\"");
  // With an allow list: a name pattern or every address's CIDR.
  p.allow = {P("*.shop.example:443"), P("192.0.2.0/24")};
  EXPECT_TRUE(p.CheckAddresses("www.shop.example", 443, At({"203.0.113.7"})).ok());
  EXPECT_TRUE(p.CheckAddresses("other.example", 443, At({"192.0.2.10"})).ok());
  auto outside = p.CheckAddresses("other.example", 443, At({"192.0.2.10", "198.51.100.1"}));
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().detail,
            "other.example:443 resolves to 198.51.100.1, which no [probe] allow entry names");
  // Deny wins over allow.
  EXPECT_FALSE(p.CheckAddresses("www.shop.example", 443, At({"10.1.1.1"})).ok());
  // Disabled: nothing.
  p.enabled = false;
  EXPECT_EQ(p.CheckName("www.shop.example", 443).error().detail,
            "/probe is disabled ([probe] enabled = false)");
}

// Issue 20 point 11: every spelling of a denied address is denied, as the
// address the connection reaches.
TEST(ProbePolicy, DenyRulesCannotBeWalkedAround) {
  struct Case {
    const char* address;  // what the target resolves to (or is)
    const char* reaches;
  };
  const Case cases[] = {
      {"0.0.0.0", "127.0.0.1"},          {"::", "::1"},
      {"::ffff:127.0.0.1", "127.0.0.1"}, {"::ffff:7f00:1", "127.0.0.1"},
      {"::127.0.0.1", "127.0.0.1"},      {"::7f00:1", "127.0.0.1"},
      {"::ffff:0.0.0.0", "127.0.0.1"},   {"::ffff:169.254.169.254", "169.254.169.254"},
      {"::169.254.169.254", "169.254.169.254"}, {"::1", "::1"},
      {"2001:db8::1", "2001:db8::1"},    {"10.1.2.3", "10.1.2.3"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ConnectAddress(make_address(c.address)), make_address(c.reaches)) << c.address;
  }
  ProbePolicy p;
  p.deny = {P("127.0.0.0/8"), P("::1/128")};
  for (const char* a : {"0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:7f00:1", "::127.0.0.1",
                        "::7f00:1", "127.0.0.5", "::1"}) {
    auto r = p.CheckAddresses("x.example", 443, At({a}));
    ASSERT_FALSE(r.ok()) << a;
    EXPECT_EQ(r.error().reason, "forbidden") << a;
  }
  EXPECT_EQ(p.CheckAddresses("x.example", 443, At({"0.0.0.0"})).error().detail,
            "x.example:443 resolves to 0.0.0.0 (reaching 127.0.0.1), denied by [probe] deny "
            "\"127.0.0.0/8\"");
  EXPECT_TRUE(p.CheckAddresses("x.example", 443, At({"203.0.113.1"})).ok());
  // The metadata service, however it is written, is refused by default.
  ProbePolicy defaults;
  for (const char* a : {"::169.254.169.254", "::ffff:a9fe:a9fe", "::a9fe:a9fe"}) {
    EXPECT_FALSE(defaults.CheckAddresses("x.example", 80, At({a})).ok()) << a;
  }
  // host:port rules compare the canonical address and name.
  ProbePolicy names;
  names.deny = {P("127.0.0.1:*"), P("localhost:*"), P("[::1]:443")};
  for (const char* host : {"127.0.0.1", "0.0.0.0", "::ffff:127.0.0.1", "[::ffff:7f00:1]",
                           "::127.0.0.1", "localhost", "localhost.", "LocalHost.", "::",
                           "[::]", "0:0:0:0:0:0:0:1"}) {
    auto r = names.CheckName(host, 443);
    EXPECT_FALSE(r.ok()) << host;
  }
  EXPECT_TRUE(names.CheckName("example.net", 443).ok());
  EXPECT_TRUE(names.CheckName("localhost.example", 443).ok());
  // A rule written with a trailing dot or a mapped form is canonical too.
  EXPECT_TRUE(P("Example.NET.:443").Matches("example.net", 443));
  EXPECT_TRUE(P("[::ffff:10.0.0.1]:443").Matches("10.0.0.1", 443));
}

}  // namespace
}  // namespace ose

#include "porthole/relay/allowlist.hpp"

#include <gtest/gtest.h>

#include "porthole/common/config_reader.hpp"

namespace porthole::relay {
namespace {

namespace ip = boost::asio::ip;

Allowlist make(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
  std::vector<AllowRule> a, d;
  for (const auto& t : allow) a.push_back(parse_allow_rule(t));
  for (const auto& t : deny) d.push_back(parse_allow_rule(t));
  return Allowlist(std::move(a), std::move(d));
}

bool name_ok(const Allowlist& l, std::string_view host, std::uint16_t port) { return l.check_name(host, port).allowed; }
bool addr_ok(const Allowlist& l, const char* addr, std::uint16_t port, std::string_view name = {}) {
  return l.check_address(ip::make_address(addr), port, name).allowed;
}

// The message of the ConfigError parse_allow_rule throws, or "" when it parses.
std::string parse_error(std::string_view text) {
  try {
    parse_allow_rule(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Allowlist, NoAllowRulesDeniesEverything) {
  const auto l = make({});
  const auto v = l.check_name("api.example.com", 443);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "");
  EXPECT_EQ(v.reason, "api.example.com:443 is not in the allow list");
  EXPECT_FALSE(addr_ok(l, "10.0.0.1", 80));
}

TEST(Allowlist, ExactNameIsCaseInsensitiveAndIgnoresOneTrailingDot) {
  const auto l = make({"API.Example.com.:443"});
  EXPECT_TRUE(name_ok(l, "api.example.com", 443));
  EXPECT_TRUE(name_ok(l, "api.EXAMPLE.com.", 443));
  EXPECT_FALSE(name_ok(l, "api.example.com..", 443));
  EXPECT_FALSE(name_ok(l, "api.example.com", 444));
  EXPECT_FALSE(name_ok(l, "x.api.example.com", 443));
  EXPECT_FALSE(name_ok(l, "example.com", 443));
  const auto v = l.check_name("api.example.com", 443);
  EXPECT_EQ(v.rule, "API.Example.com.:443");
  EXPECT_EQ(v.reason, "api.example.com:443 matches allow rule 'API.Example.com.:443'");
}

TEST(Allowlist, WildcardNeedsAtLeastOneMoreLabel) {
  const auto l = make({"*.example.com:*"});
  EXPECT_TRUE(name_ok(l, "api.example.com", 1));
  EXPECT_TRUE(name_ok(l, "a.b.example.com", 65535));
  EXPECT_TRUE(name_ok(l, "API.EXAMPLE.COM.", 443));
  EXPECT_FALSE(name_ok(l, "example.com", 443));
  EXPECT_FALSE(name_ok(l, ".example.com", 443));
  EXPECT_FALSE(name_ok(l, "evil-example.com", 443));
  EXPECT_FALSE(name_ok(l, "example.com.evil.net", 443));
  EXPECT_FALSE(name_ok(l, "xexample.com", 443));
}

TEST(Allowlist, StarMatchesAnyNameOrAddress) {
  const auto l = make({"*:443"});
  EXPECT_TRUE(name_ok(l, "anything.at.all", 443));
  EXPECT_TRUE(addr_ok(l, "10.0.0.1", 443));
  EXPECT_TRUE(addr_ok(l, "2001:db8::1", 443));
  EXPECT_FALSE(addr_ok(l, "10.0.0.1", 80));
}

TEST(Allowlist, PortRangesIncludeBothBounds) {
  const auto l = make({"svc.internal:8000-8100", "one.internal:1", "top.internal:65535"});
  EXPECT_FALSE(name_ok(l, "svc.internal", 7999));
  EXPECT_TRUE(name_ok(l, "svc.internal", 8000));
  EXPECT_TRUE(name_ok(l, "svc.internal", 8100));
  EXPECT_FALSE(name_ok(l, "svc.internal", 8101));
  EXPECT_TRUE(name_ok(l, "one.internal", 1));
  EXPECT_FALSE(name_ok(l, "one.internal", 2));
  EXPECT_TRUE(name_ok(l, "top.internal", 65535));
  const auto star = parse_allow_rule("x.y:*");
  EXPECT_EQ(star.port_min, 1);
  EXPECT_EQ(star.port_max, 65535);
}

TEST(Allowlist, AddressRulesDoNotMatchNamesAndNameRulesDoNotMatchBareAddresses) {
  const auto l = make({"10.0.0.0/8:*", "api.example.com:443"});
  EXPECT_FALSE(name_ok(l, "ten.example.com", 443));
  EXPECT_FALSE(addr_ok(l, "93.184.216.34", 443));                     // no name given
  EXPECT_TRUE(addr_ok(l, "93.184.216.34", 443, "api.example.com"));   // resolved from an allowed name
  EXPECT_TRUE(addr_ok(l, "10.9.9.9", 443, "other.example.com"));      // the address is allowed itself
}

TEST(Allowlist, LiteralHostsGivenAsNamesAreCheckedAsAddresses) {
  const auto l = make({"10.1.2.3:80", "[::1]:80"});
  EXPECT_TRUE(name_ok(l, "10.1.2.3", 80));
  EXPECT_TRUE(name_ok(l, "::1", 80));
  EXPECT_TRUE(name_ok(l, "[::1]", 80));
  EXPECT_FALSE(name_ok(l, "10.1.2.4", 80));
}

TEST(Allowlist, Ipv4CidrEdges) {
  const auto l = make({"10.0.0.0/8:*", "192.0.2.7/32:*", "198.51.100.128/25:*"});
  EXPECT_TRUE(addr_ok(l, "10.0.0.0", 1));
  EXPECT_TRUE(addr_ok(l, "10.255.255.255", 1));
  EXPECT_FALSE(addr_ok(l, "11.0.0.0", 1));
  EXPECT_FALSE(addr_ok(l, "9.255.255.255", 1));
  EXPECT_TRUE(addr_ok(l, "192.0.2.7", 1));
  EXPECT_FALSE(addr_ok(l, "192.0.2.6", 1));
  EXPECT_TRUE(addr_ok(l, "198.51.100.128", 1));
  EXPECT_FALSE(addr_ok(l, "198.51.100.127", 1));
  const auto all = make({"0.0.0.0/0:*"});
  EXPECT_TRUE(addr_ok(all, "255.255.255.255", 1));
  EXPECT_TRUE(addr_ok(all, "0.0.0.0", 1));
  EXPECT_FALSE(addr_ok(all, "::2", 1));  // a v4 network holds no real v6 address
}

TEST(Allowlist, Ipv6CidrEdges) {
  const auto l = make({"[fd00::/8]:*", "[2001:db8::1]:443", "[2001:db8:1::/127]:*"});
  EXPECT_TRUE(addr_ok(l, "fd12:3456::1", 1));
  EXPECT_TRUE(addr_ok(l, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1));
  EXPECT_FALSE(addr_ok(l, "fc00::1", 1));
  EXPECT_TRUE(addr_ok(l, "2001:db8::1", 443));
  EXPECT_FALSE(addr_ok(l, "2001:db8::2", 443));
  EXPECT_TRUE(addr_ok(l, "2001:db8:1::1", 1));
  EXPECT_FALSE(addr_ok(l, "2001:db8:1::2", 1));
  const auto all = make({"[::/0]:*"});
  EXPECT_TRUE(addr_ok(all, "2001:db8::5", 1));
  EXPECT_FALSE(addr_ok(all, "10.0.0.1", 1));          // IPv4 peers are not IPv6
  EXPECT_FALSE(addr_ok(all, "::ffff:10.0.0.1", 1));   // nor are v4-mapped ones
}

TEST(Allowlist, V4MappedAddressesAreTheirV4Address) {
  const auto l = make({"10.0.0.0/8:*"}, {"10.6.6.0/24:*"});
  EXPECT_TRUE(addr_ok(l, "::ffff:10.1.2.3", 80));
  EXPECT_FALSE(addr_ok(l, "::ffff:10.6.6.6", 80));
  EXPECT_EQ(l.check_address(ip::make_address("::ffff:10.6.6.6"), 80).reason,
            "10.6.6.6:80 matches deny rule '10.6.6.0/24:*'");
  // A v4-mapped rule is the v4 network it maps.
  const auto mapped = make({"[::ffff:192.0.2.0/120]:*"});
  EXPECT_TRUE(addr_ok(mapped, "192.0.2.200", 1));
  EXPECT_TRUE(addr_ok(mapped, "::ffff:192.0.2.1", 1));
  EXPECT_FALSE(addr_ok(mapped, "192.0.3.1", 1));
}

TEST(Allowlist, DenyWinsOverAllow) {
  const auto l = make({"*:*", "*.evil.com:443"}, {"*.evil.com:*"});
  const auto v = l.check_name("api.evil.com", 443);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rule, "*.evil.com:*");
  EXPECT_EQ(v.reason, "api.evil.com:443 matches deny rule '*.evil.com:*'");
  EXPECT_TRUE(name_ok(l, "evil.com", 443));
  EXPECT_TRUE(name_ok(l, "good.com", 443));
}

TEST(Allowlist, AllowedNameResolvingIntoADeniedNetworkIsDenied) {
  const auto l = make({"*.example.com:*"}, {"169.254.0.0/16:*", "[fe80::/10]:*"});
  EXPECT_TRUE(name_ok(l, "metadata.example.com", 80));  // before DNS the name is fine...
  const auto v = l.check_address(ip::make_address("169.254.169.254"), 80, "metadata.example.com");
  EXPECT_FALSE(v.allowed);  // ...its address is not
  EXPECT_EQ(v.rule, "169.254.0.0/16:*");
  EXPECT_EQ(v.reason,
            "metadata.example.com:80 (resolved to 169.254.169.254) matches deny rule '169.254.0.0/16:*'");
  EXPECT_FALSE(addr_ok(l, "::ffff:169.254.169.254", 80, "metadata.example.com"));
  EXPECT_FALSE(addr_ok(l, "fe80::1", 80, "metadata.example.com"));
  EXPECT_TRUE(addr_ok(l, "93.184.216.34", 80, "www.example.com"));
}

TEST(Allowlist, DenyNameRulesApplyToResolvedAddressesToo) {
  const auto l = make({"10.0.0.0/8:*"}, {"blocked.internal:*"});
  EXPECT_TRUE(addr_ok(l, "10.1.1.1", 80, "ok.internal"));
  EXPECT_FALSE(addr_ok(l, "10.1.1.1", 80, "BLOCKED.internal."));
}

TEST(AllowRuleParse, ParsesEveryForm) {
  EXPECT_EQ(parse_allow_rule("api.example.com:443").host, AllowRule::Host::Name);
  EXPECT_EQ(parse_allow_rule("*.example.com:443").host, AllowRule::Host::Wildcard);
  EXPECT_EQ(parse_allow_rule("*.example.com:443").name, "example.com");
  EXPECT_EQ(parse_allow_rule("*:*").host, AllowRule::Host::Any);
  const auto v4 = parse_allow_rule("10.1.2.3:80");
  EXPECT_EQ(v4.host, AllowRule::Host::Network);
  EXPECT_TRUE(v4.v4);
  EXPECT_EQ(v4.prefix, 32u);
  const auto v6 = parse_allow_rule("[::1]:80");
  EXPECT_FALSE(v6.v4);
  EXPECT_EQ(v6.prefix, 128u);
  EXPECT_EQ(parse_allow_rule("[fd00::/8]:8000-8100").port_max, 8100);
  EXPECT_EQ(parse_allow_rule("10.0.0.0/8:*").text, "10.0.0.0/8:*");
  EXPECT_EQ(parse_allow_rule("localhost:5432").name, "localhost");
}

TEST(AllowRuleParse, EveryErrorQuotesTheRuleAndShowsValidOnes) {
  const std::string examples =
      "; a valid rule looks like 'api.example.com:443', '*.example.com:8000-8100', '10.0.0.0/8:*' or '[fd00::/8]:443'";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the rule is empty"},
      {"example.com", "missing ':PORTS' after the host"},
      {"[::1]", "missing ':PORTS' after the host"},
      {"[::1]443", "missing ':PORTS' after the host"},
      {"[::1:443", "missing ']' after the IPv6 address"},
      {":443", "missing host before ':'"},
      {"[]:443", "missing host before ':'"},
      {"::1:443", "an IPv6 address must be in brackets, as in '[::1]:443'"},
      {"fd00::/8:443", "an IPv6 address must be in brackets, as in '[::1]:443'"},
      {"example.com:https", "port 'https' must be a number 1..65535, a range like 8000-8100, or *"},
      {"example.com:", "port '' must be a number 1..65535, a range like 8000-8100, or *"},
      {"example.com:0", "port '0' must be a number 1..65535, a range like 8000-8100, or *"},
      {"example.com:65536", "port '65536' must be a number 1..65535, a range like 8000-8100, or *"},
      {"example.com:+80", "port '+80' must be a number 1..65535, a range like 8000-8100, or *"},
      {"example.com:80-", "port '80-' must be a number 1..65535, a range like 8000-8100, or *"},
      {"example.com:8100-8000", "port range 8100-8000 is backwards; write the lower port first"},
      {"999.1.2.3:80", "'999.1.2.3' is not an IP address"},
      {"10.1.2:80", "'10.1.2' is not an IP address"},
      {"[fe80::zz]:80", "'fe80::zz' is not an IP address"},
      {"[10.0.0.1]:80", "only IPv6 addresses go in brackets; write '10.0.0.1'"},
      {"10.0.0.0/33:80", "prefix length '33' must be a number 0..32"},
      {"10.0.0.0/:80", "prefix length '' must be a number 0..32"},
      {"[fd00::/129]:80", "prefix length '129' must be a number 0..128"},
      {"10.1.2.3/8:80", "the network has host bits set; did you mean '10.0.0.0/8'?"},
      {"[fd00::1/8]:80", "the network has host bits set; did you mean '[fd00::/8]'?"},
      {"api*.example.com:80", "a wildcard must be the whole first label, as in '*.example.com'"},
      {"a.*.example.com:80", "a wildcard must be the whole first label, as in '*.example.com'"},
      {"*example.com:80", "a wildcard must be the whole first label, as in '*.example.com'"},
      {"*.*.example.com:80", "a wildcard must be the whole first label, as in '*.example.com'"},
      {"ex ample.com:80", "'ex ample.com' is not a valid host name (letters, digits, '-' and '.', no empty labels)"},
      {"a..b:80", "'a..b' is not a valid host name (letters, digits, '-' and '.', no empty labels)"},
      {"*.:80", "'*.' is not a valid host name (letters, digits, '-' and '.', no empty labels)"},
      {"under_score.com:80", "'under_score.com' is not a valid host name (letters, digits, '-' and '.', no empty labels)"},
      {std::string(64, 'a') + ".com:80",
       "'" + std::string(64, 'a') + ".com' is not a valid host name (letters, digits, '-' and '.', no empty labels)"},
  };
  for (const auto& [text, what] : cases)
    EXPECT_EQ(parse_error(text), "egress rule '" + text + "': " + what + examples) << text;
}

}  // namespace
}  // namespace porthole::relay

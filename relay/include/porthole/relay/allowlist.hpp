// The egress allowlist: which destinations an outbound connection may reach. The sidecar
// enforces it to protect the host's network; the agent enforces it for the enclave's own
// policy. Deny rules always win, and with no matching allow rule the answer is no.
//
// Rule syntax, HOST:PORTS:
//   HOST   "api.example.com"      an exact name (case-insensitive, one trailing dot ignored)
//          "*.example.com"        any name with at least one more label; not example.com itself
//          "*"                    any name or address
//          "10.1.2.3", "[::1]"    one address
//          "10.0.0.0/8", "[fd00::/8]"  a network (host bits must be zero)
//   PORTS  "443", "8000-8100", "*" (1..65535)
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d), in rules and in checked addresses alike, are
// their IPv4 address: a v4 rule covers them, and a v6 network covers only real v6 addresses.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "porthole/common/config_reader.hpp"

namespace porthole::relay {

struct AllowRule {
  enum class Host { Any, Name, Wildcard, Network };
  Host host = Host::Any;
  std::string name;                      // Name: lower case, no trailing dot; Wildcard: the suffix after "*."
  bool v4 = false;                       // Network: an IPv4 network (else IPv6)
  std::array<std::uint8_t, 16> net{};    // Network: the address bytes (v4 in the first 4)
  unsigned prefix = 0;                   // Network: prefix length in bits
  std::uint16_t port_min = 1, port_max = 65535;
  std::string text;                      // the original, used as a metric label
};

// Throws porthole::ConfigError quoting the text, saying what is wrong and what a valid rule
// looks like. The caller prefixes the config path ("egress.allow[2]: ...").
AllowRule parse_allow_rule(std::string_view text);
std::vector<AllowRule> parse_allow_rules(const std::vector<std::string>& texts);
// Reads a list of rules from config, each validated; errors name "key[i]".
std::vector<std::string> read_allow_rules(ConfigNode& node, const std::string& key,
                                          const std::vector<std::string>& fallback);

class Allowlist {
 public:
  Allowlist(std::vector<AllowRule> allow, std::vector<AllowRule> deny);

  struct Verdict {
    bool allowed = false;
    std::string rule;    // the deciding rule's text, or "" (default deny)
    std::string reason;  // for logs and the 403 body: "api.evil.com:443 matches deny rule '*.evil.com:*'"
  };

  // A destination given by name, before DNS: name rules and "*" apply; IP/CIDR rules do not
  // match names. A host that is an IP literal ("10.1.2.3", "[::1]") is checked as an address.
  Verdict check_name(std::string_view host, std::uint16_t port) const;
  // A resolved or literal address: IP/CIDR rules and "*" apply. When `name` (what it was
  // resolved from) is given, name rules may allow it too, but deny rules are checked against
  // both the name and the address, and deny wins.
  Verdict check_address(const boost::asio::ip::address& addr, std::uint16_t port, std::string_view name = {}) const;

  const std::vector<AllowRule>& allow_rules() const { return allow_; }
  const std::vector<AllowRule>& deny_rules() const { return deny_; }

 private:
  Verdict decide(const std::string& name, const boost::asio::ip::address* addr, std::uint16_t port,
                 const std::string& what) const;

  std::vector<AllowRule> allow_;
  std::vector<AllowRule> deny_;
};

}  // namespace porthole::relay

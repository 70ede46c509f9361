#include "porthole/relay/allowlist.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "porthole/common/config_reader.hpp"

namespace porthole::relay {
namespace {

namespace ip = boost::asio::ip;

constexpr std::string_view kExamples =
    "a valid rule looks like 'api.example.com:443', '*.example.com:8000-8100', '10.0.0.0/8:*' or '[fd00::/8]:443'";

[[noreturn]] void fail(std::string_view text, const std::string& what) {
  throw ConfigError("egress rule '" + std::string(text) + "': " + what + "; " + std::string(kExamples));
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A decimal number within [lo, hi]; false on anything else (signs, spaces, overflow).
bool parse_number(std::string_view s, unsigned lo, unsigned hi, unsigned& out) {
  if (!all_digits(s) || s.size() > 5) return false;
  std::from_chars(s.data(), s.data() + s.size(), out);
  return out >= lo && out <= hi;
}

void parse_ports(std::string_view text, std::string_view ports, AllowRule& r) {
  if (ports == "*") return;
  const std::string bad = "port '" + std::string(ports) + "' must be a number 1..65535, a range like 8000-8100, or *";
  unsigned lo = 0, hi = 0;
  if (const auto dash = ports.find('-'); dash != std::string_view::npos) {
    if (!parse_number(ports.substr(0, dash), 1, 65535, lo) || !parse_number(ports.substr(dash + 1), 1, 65535, hi))
      fail(text, bad);
    if (lo > hi) fail(text, "port range " + std::string(ports) + " is backwards; write the lower port first");
  } else {
    if (!parse_number(ports, 1, 65535, lo)) fail(text, bad);
    hi = lo;
  }
  r.port_min = static_cast<std::uint16_t>(lo);
  r.port_max = static_cast<std::uint16_t>(hi);
}

// Lower case, one trailing dot dropped: the form names are compared in.
std::string normalize_name(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  for (unsigned i = 0; i < bits / 8; ++i)
    if (a[i] != b[i]) return false;
  if (bits % 8 == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits % 8));
  return (a[bits / 8] & mask) == (b[bits / 8] & mask);
}

// An address as (is_v4, 16 bytes), with v4-mapped v6 folded into v4.
std::pair<bool, std::array<std::uint8_t, 16>> address_key(const ip::address& a) {
  std::array<std::uint8_t, 16> out{};
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return address_key(ip::make_address_v4(ip::v4_mapped, a.to_v6()));
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
    return {true, out};
  }
  const auto b = a.to_v6().to_bytes();
  std::copy(b.begin(), b.end(), out.begin());
  return {false, out};
}

std::string address_text(const ip::address& a) {
  const auto [v4, bytes] = address_key(a);
  if (v4) return ip::address_v4({bytes[0], bytes[1], bytes[2], bytes[3]}).to_string();
  return "[" + a.to_string() + "]";
}

void parse_network(std::string_view text, std::string_view host, bool bracketed, AllowRule& r) {
  const auto slash = host.find('/');
  const std::string addr_text(host.substr(0, slash));
  boost::system::error_code ec;
  const auto addr = ip::make_address(addr_text, ec);
  if (ec || (addr.is_v6() && addr.to_v6().scope_id() != 0))
    fail(text, "'" + addr_text + "' is not an IP address");
  if (addr.is_v4() && bracketed) fail(text, "only IPv6 addresses go in brackets; write '" + addr_text + "'");
  if (addr.is_v6() && !bracketed) fail(text, "an IPv6 address must be in brackets, as in '[::1]:443'");
  const unsigned max_bits = addr.is_v4() ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos && !parse_number(host.substr(slash + 1), 0, max_bits, bits))
    fail(text, "prefix length '" + std::string(host.substr(slash + 1)) + "' must be a number 0.." +
                   std::to_string(max_bits));
  r.host = AllowRule::Host::Network;
  // A v4-mapped network of /96 or longer is the IPv4 network it maps, so it matches v4 peers.
  const bool mapped = addr.is_v6() && addr.to_v6().is_v4_mapped();
  r.v4 = addr.is_v4() || (mapped && bits >= 96);
  r.prefix = mapped && bits >= 96 ? bits - 96 : bits;
  if (r.v4) r.net = address_key(addr).second;
  else r.net = addr.to_v6().to_bytes();
  std::array<std::uint8_t, 16> canonical{};
  for (unsigned i = 0; i < r.prefix; ++i) canonical[i / 8] |= r.net[i / 8] & (0x80 >> (i % 8));
  if (canonical != r.net) {
    std::string fixed;
    if (r.v4) fixed = ip::address_v4({canonical[0], canonical[1], canonical[2], canonical[3]}).to_string() + "/" +
                      std::to_string(r.prefix);
    else fixed = "[" + ip::address_v6(canonical).to_string() + "/" + std::to_string(r.prefix) + "]";
    fail(text, "the network has host bits set; did you mean '" + fixed + "'?");
  }
}

}  // namespace

AllowRule parse_allow_rule(std::string_view text) {
  AllowRule r;
  r.text = std::string(text);
  std::string_view host, ports;
  bool bracketed = false;
  if (text.empty()) fail(text, "the rule is empty");
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) fail(text, "missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    bracketed = true;
    if (close + 1 >= text.size() || text[close + 1] != ':') fail(text, "missing ':PORTS' after the host");
    ports = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) fail(text, "missing ':PORTS' after the host");
    host = text.substr(0, colon);
    ports = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      fail(text, "an IPv6 address must be in brackets, as in '[::1]:443'");
  }
  if (host.empty()) fail(text, "missing host before ':'");
  parse_ports(text, ports, r);

  const bool looks_numeric =
      std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '/'; });
  if (host == "*") {
    r.host = AllowRule::Host::Any;
  } else if (bracketed || looks_numeric) {
    parse_network(text, host, bracketed, r);
  } else if (host.find('*') != std::string_view::npos) {
    if (host.substr(0, 2) != "*." || host.find('*', 1) != std::string_view::npos)
      fail(text, "a wildcard must be the whole first label, as in '*.example.com'");
    r.host = AllowRule::Host::Wildcard;
    r.name = normalize_name(host.substr(2));
  } else {
    r.host = AllowRule::Host::Name;
    r.name = normalize_name(host);
  }
  if ((r.host == AllowRule::Host::Name || r.host == AllowRule::Host::Wildcard) && !valid_name(r.name))
    fail(text, "'" + std::string(host) + "' is not a valid host name (letters, digits, '-' and '.', no empty labels)");
  return r;
}

Allowlist::Allowlist(std::vector<AllowRule> allow, std::vector<AllowRule> deny)
    : allow_(std::move(allow)), deny_(std::move(deny)) {}

namespace {

bool matches(const AllowRule& r, const std::string& name, const ip::address* addr, std::uint16_t port) {
  if (port < r.port_min || port > r.port_max) return false;
  switch (r.host) {
    case AllowRule::Host::Any: return true;
    case AllowRule::Host::Name: return !name.empty() && name == r.name;
    case AllowRule::Host::Wildcard:
      return name.size() > r.name.size() + 1 && name.ends_with(r.name) &&
             name[name.size() - r.name.size() - 1] == '.' && name[name.size() - r.name.size() - 2] != '.';
    case AllowRule::Host::Network: {
      if (addr == nullptr) return false;
      const auto [v4, bytes] = address_key(*addr);
      return v4 == r.v4 && prefix_equal(bytes.data(), r.net.data(), r.prefix);
    }
  }
  return false;
}

}  // namespace

Allowlist::Verdict Allowlist::decide(const std::string& name, const ip::address* addr, std::uint16_t port,
                                     const std::string& what) const {
  for (const auto& r : deny_)
    if (matches(r, name, addr, port)) return {false, r.text, what + " matches deny rule '" + r.text + "'"};
  for (const auto& r : allow_)
    if (matches(r, name, addr, port)) return {true, r.text, what + " matches allow rule '" + r.text + "'"};
  return {false, "", what + " is not in the allow list"};
}

Allowlist::Verdict Allowlist::check_name(std::string_view host, std::uint16_t port) const {
  std::string_view literal = host;
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') literal = literal.substr(1, literal.size() - 2);
  boost::system::error_code ec;
  const auto addr = ip::make_address(std::string(literal), ec);
  if (!ec) return check_address(addr, port);
  const auto name = normalize_name(host);
  return decide(name, nullptr, port, name + ":" + std::to_string(port));
}

Allowlist::Verdict Allowlist::check_address(const ip::address& addr, std::uint16_t port, std::string_view name) const {
  const auto n = normalize_name(name);
  std::string what = n.empty() ? address_text(addr) + ":" + std::to_string(port)
                               : n + ":" + std::to_string(port) + " (resolved to " + address_text(addr) + ")";
  return decide(n, &addr, port, what);
}

std::vector<AllowRule> parse_allow_rules(const std::vector<std::string>& texts) {
  std::vector<AllowRule> out;
  for (const auto& t : texts) out.push_back(parse_allow_rule(t));
  return out;
}

std::vector<std::string> read_allow_rules(ConfigNode& node, const std::string& key,
                                          const std::vector<std::string>& fallback) {
  auto rules = node.strings(key, fallback);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    try {
      parse_allow_rule(rules[i]);
    } catch (const ConfigError& e) {
      node.fail(key + "[" + std::to_string(i) + "]", e.what());
    }
  }
  return rules;
}

}  // namespace porthole::relay

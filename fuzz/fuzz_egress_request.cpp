// libFuzzer target: the egress request and reply decoders (the first byte picks which) over
// every prefix of the input, then a round trip: decode -> encode -> decode gives the same
// message, and re-encoding is byte-identical.
#include <cstddef>
#include <cstdint>
#include <span>

#include "porthole/relay/egress_request.hpp"

namespace {

using namespace porthole::relay;

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

template <typename Decode>
void check_prefixes(std::span<const std::uint8_t> input, std::size_t chunk, Decode decode) {
  const auto full = decode(input);
  for (std::size_t n = 0; n < input.size(); n += chunk) {
    const auto part = decode(input.first(n));
    if (part.status == ProxyParse::NeedMore) continue;
    if (part.status != full.status || part.error != full.error || part.consumed != full.consumed) __builtin_trap();
    break;
  }
  if (full.status == ProxyParse::Ok && full.consumed > input.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + (data[0] >> 1) % 32;
  const std::span<const std::uint8_t> input(data + 1, size - 1);
  if (data[0] & 1) {
    check_prefixes(input, chunk, decode_egress_reply);
    const auto d = decode_egress_reply(input);
    if (d.status != ProxyParse::Ok) return 0;
    const auto wire = encode_egress_reply(d.reply);
    const auto again = decode_egress_reply(bytes(wire));
    if (again.status != ProxyParse::Ok || again.consumed != wire.size() || !(again.reply == d.reply)) __builtin_trap();
    if (encode_egress_reply(again.reply) != wire) __builtin_trap();
  } else {
    check_prefixes(input, chunk, decode_egress_request);
    const auto d = decode_egress_request(input);
    if (d.status != ProxyParse::Ok) return 0;
    if (!egress_request_error(d.request).empty()) __builtin_trap();
    const auto wire = encode_egress_request(d.request);
    const auto again = decode_egress_request(bytes(wire));
    if (again.status != ProxyParse::Ok || again.consumed != wire.size() || !(again.request == d.request))
      __builtin_trap();
    if (encode_egress_request(again.request) != wire) __builtin_trap();
  }
  return 0;
}

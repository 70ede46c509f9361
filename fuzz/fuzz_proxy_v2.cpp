// libFuzzer target: the PROXY v2 decoder over every prefix of the input (as a socket would
// deliver it), then a round trip. A prefix may only say NeedMore or the final answer; a decoded
// header must re-encode to bytes that decode to the same header and re-encode identically.
#include <cstddef>
#include <cstdint>
#include <span>

#include "porthole/relay/proxy_v2.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole::relay;
  if (size == 0) return 0;
  // The first byte picks a chunk size, so the incremental path is explored too.
  const std::size_t chunk = 1 + data[0] % 32;
  const std::span<const std::uint8_t> input(data + 1, size - 1);
  const auto full = decode_proxy_v2(input);
  for (std::size_t n = 0; n < input.size(); n += chunk) {
    const auto part = decode_proxy_v2(input.first(n));
    if (part.status == ProxyParse::NeedMore) continue;
    if (part.status != full.status || part.error != full.error || part.consumed != full.consumed) __builtin_trap();
    break;
  }
  if (full.status == ProxyParse::NeedMore && input.size() >= kProxyV2MaxHeader) __builtin_trap();
  if (full.status != ProxyParse::Ok) return 0;
  if (full.consumed > input.size() || full.consumed > kProxyV2MaxHeader) __builtin_trap();

  const auto wire = encode_proxy_v2(full.header);
  const auto again = decode_proxy_v2({reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()});
  if (again.status != ProxyParse::Ok || again.consumed != wire.size() || !(again.header == full.header))
    __builtin_trap();
  if (encode_proxy_v2(again.header) != wire) __builtin_trap();
  return 0;
}

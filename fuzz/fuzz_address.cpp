// libFuzzer target: endpoint and transport address parsing (configuration input).
#include <cstddef>
#include <cstdint>
#include <string>

#include "porthole/relay/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto ep = porthole::relay::parse_endpoint(text);
    if (porthole::relay::parse_endpoint(ep.to_string()).to_string() != ep.to_string()) __builtin_trap();
  } catch (const porthole::ConfigError&) {
  }
  try {
    auto t = porthole::relay::parse_transport(text);
    (void)t.endpoint(16, 8000).to_string();
  } catch (const porthole::ConfigError&) {
  }
  return 0;
}

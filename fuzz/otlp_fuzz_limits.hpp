// Decode limits for the OTLP fuzz targets: small caps, so that the fuzzer reaches the limit paths
// (too large, too deep, too many items or values) as well as the decoding itself.
#pragma once

#include "porthole/telemetry/otlp_proto.hpp"

inline porthole::telemetry::OtlpDecodeLimits otlp_fuzz_limits() {
  porthole::telemetry::OtlpDecodeLimits limits;
  limits.max_bytes = 1 << 16;
  limits.max_depth = 12;
  limits.max_items = 64;
  limits.max_values = 4096;
  return limits;
}

// Random trace and span ids for spans the agent (or a C++ workload) starts itself.
//
// Ids need to be unique and unpredictable enough that two enclaves never collide, not secret:
// they are published in telemetry. So each thread runs its own xoshiro256** generator (fast, no
// locking, 2^256-1 period), seeded once per thread from getrandom(2) through splitmix64, as the
// xoshiro authors recommend. A thread that cannot get OS randomness falls back to a seed mixed
// from the time, thread id and an address — still unique in practice, and logged nowhere
// because this runs on the hot path.
#pragma once

#include <cstdint>

#include "porthole/telemetry/otlp_model.hpp"

namespace porthole::telemetry {

// Never all-zero (all-zero means "invalid" in W3C and OTLP).
TraceId random_trace_id();
SpanId random_span_id();

// The per-thread generator's next 64 bits (exposed for tests and for sampling decisions).
std::uint64_t random_u64();

}  // namespace porthole::telemetry

// Parsing and printing durations and rates for the command line and the reports.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::loadtest {

// "1.5ms" style with 3 significant digits.
std::string format_ns(std::uint64_t ns);
std::string format_seconds(double s);

// "250ms", "10s", "1.5m", "2h", "750us", "100ns"; a bare number is seconds. nullopt if malformed
// or negative.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);
// "0.5%" or "0.005" -> 0.005; nullopt if malformed or outside 0..1.
std::optional<double> parse_fraction(std::string_view text);
// A plain non-negative decimal number ("1500", "2.5").
std::optional<double> parse_number(std::string_view text);

}  // namespace porthole::loadtest

// Parsing the HTTP Retry-After header (RFC 9110 §10.2.3), which a collector sends with 429/503
// to say when to come back: either delay-seconds ("120") or an HTTP-date
// ("Fri, 31 Dec 1999 23:59:59 GMT", plus the obsolete RFC 850 and asctime forms).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "porthole/common/time.hpp"

namespace porthole::telemetry {

// The delay the header asks for, measured from `now` (a date in the past gives zero);
// nullopt when the value is neither form. Values beyond a year (seconds or dates, up to year
// 9999) saturate at a year instead of overflowing.
std::optional<Duration> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

// An HTTP-date in any of the three RFC 9110 forms; nullopt when malformed.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view value);

}  // namespace porthole::telemetry

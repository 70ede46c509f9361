#include "porthole/telemetry/retry_after.hpp"

#include <gtest/gtest.h>

namespace porthole::telemetry {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

// Sun, 06 Nov 1994 08:49:37 GMT — the RFC 9110 example.
const system_clock::time_point kExample = sys_days{1994y / November / 6} + 8h + 49min + 37s;

TEST(ParseRetryAfter, DelaySeconds) {
  EXPECT_EQ(parse_retry_after("2", kExample), Duration(2s));
  EXPECT_EQ(parse_retry_after(" 120 ", kExample), Duration(120s));
  EXPECT_EQ(parse_retry_after("0", kExample), Duration(0));
  // Absurd values saturate at a year instead of overflowing.
  EXPECT_EQ(parse_retry_after("99999999999999999999999", kExample), Duration(hours(24 * 365)));
}

TEST(ParseRetryAfter, HttpDateInAllThreeForms) {
  for (const char* text : {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                           "Sun Nov  6 08:49:37 1994"}) {
    auto t = parse_http_date(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(*t, kExample) << text;
  }
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", kExample), Duration(10s));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", kExample), Duration(0)) << "past dates mean now";
}

TEST(ParseRetryAfter, DatesFarFromNowNeitherOverflowNorWrap) {
  // Beyond what the nanosecond system clock holds (2262): saturates at a year, like big seconds.
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", kExample), Duration(hours(24 * 365)));
  EXPECT_EQ(parse_retry_after("Mon, 01 Jan 0001 00:00:00 GMT", kExample), Duration(0));
  auto far = parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT");
  ASSERT_TRUE(far.has_value());
  EXPECT_EQ(far->time_since_epoch(), seconds(253402300799));
}

TEST(ParseRetryAfter, RejectsGarbage) {
  for (const char* bad : {"", "soon", "-1", "1.5", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT",
                          "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, kExample).has_value()) << bad;
  }
}

}  // namespace
}  // namespace porthole::telemetry

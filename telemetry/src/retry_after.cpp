#include "porthole/telemetry/retry_after.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace porthole::telemetry {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A small cursor over the date text: each reader consumes exactly what it expects or fails.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool literal(std::string_view lit) {
    if (!s_.starts_with(lit)) return false;
    s_.remove_prefix(lit.size());
    return true;
  }
  // Exactly `digits` digits (or 1..2 when `digits` is 0, for asctime's space-padded day).
  bool number(int digits, int& out) {
    std::size_t n = 0;
    const std::size_t want = digits == 0 ? 2 : static_cast<std::size_t>(digits);
    while (n < s_.size() && n < want && std::isdigit(static_cast<unsigned char>(s_[n]))) ++n;
    if (n == 0 || (digits != 0 && n != want)) return false;
    std::from_chars(s_.data(), s_.data() + n, out);
    s_.remove_prefix(n);
    return true;
  }
  bool month(int& out) {
    static constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < kMonths.size(); ++i) {
      if (literal(kMonths[i])) {
        out = static_cast<int>(i) + 1;
        return true;
      }
    }
    return false;
  }
  bool weekday_name(bool long_form) {
    static constexpr std::array<std::string_view, 7> kLong{"Monday", "Tuesday", "Wednesday", "Thursday",
                                                           "Friday", "Saturday", "Sunday"};
    static constexpr std::array<std::string_view, 7> kShort{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    for (auto name : long_form ? kLong : kShort) {
      if (literal(name)) return true;
    }
    return false;
  }
  bool time_of_day(int& h, int& m, int& s) {
    return number(2, h) && literal(":") && number(2, m) && literal(":") && number(2, s);
  }
  bool done() const { return s_.empty(); }

 private:
  std::string_view s_;
};

// Seconds, not the system clock's nanoseconds: a date past 2262 (which any peer may send) would
// overflow those.
std::optional<std::chrono::sys_seconds> make_time(int y, int mo, int d, int h, int mi, int s) {
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{s};
}

}  // namespace

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view value) {
  value = trim(value);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  {  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    Cursor c(value);
    if (c.weekday_name(false) && c.literal(", ") && c.number(2, d) && c.literal(" ") && c.month(mo) &&
        c.literal(" ") && c.number(4, y) && c.literal(" ") && c.time_of_day(h, mi, s) && c.literal(" GMT") &&
        c.done()) {
      return make_time(y, mo, d, h, mi, s);
    }
  }
  {  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years in the past 50 years (RFC 9110).
    Cursor c(value);
    if (c.weekday_name(true) && c.literal(", ") && c.number(2, d) && c.literal("-") && c.month(mo) &&
        c.literal("-") && c.number(2, y) && c.literal(" ") && c.time_of_day(h, mi, s) && c.literal(" GMT") &&
        c.done()) {
      y += y < 70 ? 2000 : 1900;
      return make_time(y, mo, d, h, mi, s);
    }
  }
  {  // asctime: "Sun Nov  6 08:49:37 1994"
    Cursor c(value);
    if (c.weekday_name(false) && c.literal(" ") && c.month(mo) && c.literal(" ") && (c.literal(" ") || true) &&
        c.number(0, d) && c.literal(" ") && c.time_of_day(h, mi, s) && c.literal(" ") && c.number(4, y) &&
        c.done()) {
      return make_time(y, mo, d, h, mi, s);
    }
  }
  return std::nullopt;
}

std::optional<Duration> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  using std::chrono::seconds;
  // Anything beyond a year is as good as "very long" (longer than any retry budget allows).
  constexpr std::uint64_t kCapSeconds = 365ull * 24 * 3600;
  constexpr Duration kCap = seconds(kCapSeconds);
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    std::uint64_t secs = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec == std::errc::result_out_of_range || secs > kCapSeconds) return kCap;
    return std::chrono::duration_cast<Duration>(seconds(secs));
  }
  auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  // In whole seconds first: only a date within a year of `now` fits the nanosecond clock.
  const seconds ahead = *when - std::chrono::floor<seconds>(now);
  if (ahead > seconds(kCapSeconds)) return kCap;
  if (ahead <= seconds(0)) return Duration(0);
  return std::chrono::duration_cast<Duration>(*when - now);
}

}  // namespace porthole::telemetry

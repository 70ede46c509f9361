// Token-level rules of the Prometheus text format 0.0.4: names, label sets, values,
// timestamps and escapes of one line. Knows nothing about families; prom_text_parser.cpp does.
#pragma once

#include <prometheus/client_metric.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "porthole/telemetry/prom_text.hpp"

namespace porthole::telemetry::detail {

using Labels = std::vector<prometheus::ClientMetric::Label>;

struct SampleLine {
  std::string_view name;
  Labels labels;  // sorted by name, names unique
  double value = 0.0;
  std::optional<std::int64_t> timestamp_ms;
};

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }
std::size_t skip_blanks(std::string_view line, std::size_t pos);
// End of the token starting at `pos`: the next blank or the end of the line.
std::size_t token_end(std::string_view line, std::size_t pos);

bool is_metric_name(std::string_view name);  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_label_name(std::string_view name);   // [a-zA-Z_][a-zA-Z0-9_]*
bool is_valid_utf8(std::string_view text);

// A float as Prometheus writes them: decimal with optional exponent, or (case-insensitively)
// [+-]Inf, [+-]Infinity, NaN. nullopt for anything else, including finite values so large that
// TextSerializer would print them out of double range.
std::optional<double> parse_value(std::string_view token);

// `value` as it reads back after prometheus::TextSerializer 1.0.1 printed it (16 significant
// digits). `le` and `quantile` identify series, so they are compared in this form: two bounds it
// would print alike are duplicates.
double as_serialized(double value);

// Splits a sample line. Returns an empty string on success, else what is wrong (no line prefix).
std::string lex_sample_line(std::string_view line, const PromParseLimits& limits, SampleLine& out);

// Checks HELP text: valid UTF-8 and only the `\\` and `\n` escapes. Empty string when fine.
std::string check_help_text(std::string_view text);

// `token` quoted for an error message: truncated, and non-printable bytes as \xHH, so a hostile
// token can neither bloat the message nor smuggle control characters into logs.
std::string quoted(std::string_view token);

}  // namespace porthole::telemetry::detail

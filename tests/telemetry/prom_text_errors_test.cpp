// Every way a line can be rejected, and the message that says why.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "porthole/telemetry/prom_text.hpp"

namespace porthole::telemetry {
namespace {

struct BadLineCase {
  const char* name;
  std::string text;     // the offending line is always the last one
  std::string message;  // the one error expected
};

std::ostream& operator<<(std::ostream& out, const BadLineCase& c) { return out << c.name; }

class PromTextBadLine : public ::testing::TestWithParam<BadLineCase> {};

TEST_P(PromTextBadLine, IsSkippedWithItsMessage) {
  const auto& param = GetParam();
  const std::string text = param.text + "\nafter 1\n";
  const auto result =
      parse_prometheus_text(text, {.max_labels_per_series = 3, .max_label_value_bytes = 24});
  ASSERT_EQ(result.errors.size(), 1u) << text;
  EXPECT_EQ(result.errors[0].message, param.message);
  const auto line =
      static_cast<std::size_t>(std::count(param.text.begin(), param.text.end(), '\n') + 1);
  EXPECT_EQ(result.errors[0].line, line);
  // The line after the bad one is still parsed.
  ASSERT_FALSE(result.families.empty());
  EXPECT_EQ(result.families.back().name, "after");
}

const BadLineCase kBadLines[] = {
    // Sample lines.
    {"MetricName", "foo-bar 1", "line 1: invalid metric name 'foo-bar'"},
    {"MetricNameDigit", "1foo 1", "line 1: invalid metric name '1foo'"},
    {"MissingValue", "foo", "line 1: missing value for 'foo'"},
    {"MissingValueAfterLabels", "foo{a=\"b\"}  ", "line 1: missing value for 'foo'"},
    {"BadValue", "foo abc", "line 1: invalid value 'abc'"},
    {"HexValue", "foo 0x1p3", "line 1: invalid value '0x1p3'"},
    {"ValueOutOfRange", "foo 1e400", "line 1: invalid value '1e400'"},
    {"UnprintablyLarge", "foo 1.7976931348623157e308",
     "line 1: invalid value '1.7976931348623157e308'"},
    {"SignedNaN", "foo -NaN", "line 1: invalid value '-NaN'"},
    {"BareExponent", "foo 1e", "line 1: invalid value '1e'"},
    {"FractionalTimestamp", "foo 1 12.5", "line 1: invalid timestamp '12.5'"},
    {"TimestampOverflow", "foo 1 9223372036854775808",
     "line 1: invalid timestamp '9223372036854775808'"},
    {"TextAfterTimestamp", "foo 1 2 3 ", "line 1: unexpected text after the timestamp '3 '"},
    {"UnterminatedLabelSet", "foo{a=\"b\"", "line 1: 'foo': unterminated label set"},
    {"OpenBraceOnly", "foo{", "line 1: 'foo': unterminated label set"},
    {"UnterminatedAfterComma", "foo{a=\"b\", ", "line 1: 'foo': unterminated label set"},
    {"BadLabelName", "foo{1a=\"b\"} 1", "line 1: 'foo': invalid label name '1a'"},
    {"LeadingComma", "foo{,a=\"b\"} 1", "line 1: 'foo': invalid label name ''"},
    {"ReservedLabelName", "foo{__name__=\"x\"} 1",
     "line 1: 'foo': reserved label name '__name__' (leading '__')"},
    {"TooManyLabels", "foo{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1",
     "line 1: 'foo': more than 3 labels"},
    {"MissingEquals", "foo{a \"b\"} 1", "line 1: 'foo': expected '=' after label 'a'"},
    {"UnquotedValue", "foo{a=b} 1", "line 1: 'foo': expected '\"' to open the value of label 'a'"},
    {"BadLabelEscape", "foo{a=\"x\\t\"} 1",
     "line 1: 'foo': label 'a': invalid escape sequence '\\t'"},
    {"LabelValueTooLong", "foo{a=\"1234567890123456789012345\"} 1",
     "line 1: 'foo': label 'a': value over 24 bytes"},
    {"UnterminatedLabelValue", "foo{a=\"b} 1", "line 1: 'foo': label 'a': unterminated value"},
    {"LabelValueNotUtf8", "foo{a=\"\xff\"} 1",
     "line 1: 'foo': label 'a': value is not valid UTF-8"},
    {"OverlongUtf8", "foo{a=\"\xc0\xaf\"} 1", "line 1: 'foo': label 'a': value is not valid UTF-8"},
    {"MissingComma", "foo{a=\"1\" b=\"2\"} 1",
     "line 1: 'foo': expected ',' or '}' after the value of label 'a'"},
    {"DuplicateLabel", "foo{a=\"1\",a=\"2\"} 1", "line 1: 'foo': duplicate label name 'a'"},
    {"DuplicateSeries", "foo{a=\"1\"} 1\nfoo{a=\"1\"} 2",
     "line 2: duplicate series for 'foo' {a='1'}"},
    {"DuplicateUnlabelled", "foo 1\nfoo 2", "line 2: duplicate series for 'foo'"},
    // HELP and TYPE lines.
    {"HelpWithoutName", "# HELP", "line 1: invalid metric name '' in HELP line '# HELP'"},
    {"HelpBadName", "# HELP a.b text",
     "line 1: invalid metric name 'a.b' in HELP line '# HELP a.b text'"},
    {"HelpBadEscape", "# HELP a x\\ty",
     "line 1: invalid escape sequence '\\t' in HELP text for 'a'"},
    {"HelpLoneBackslash", "# HELP a x\\", "line 1: HELP text ends in a lone '\\' for 'a'"},
    {"HelpNotUtf8", "# HELP a \xe2\x82", "line 1: HELP text is not valid UTF-8 for 'a'"},
    {"SecondHelp", "# HELP a x\n# HELP a y", "line 2: second HELP line for 'a'"},
    {"TypeBadName", "# TYPE 9a gauge",
     "line 1: invalid metric name '9a' in TYPE line '# TYPE 9a gauge'"},
    {"UnknownType", "# TYPE a meter",
     "line 1: unknown metric type 'meter' for 'a' (expected counter, gauge, histogram, summary "
     "or untyped)"},
    {"UppercaseType", "# TYPE a GAUGE",
     "line 1: unknown metric type 'GAUGE' for 'a' (expected counter, gauge, histogram, summary "
     "or untyped)"},
    {"SecondType", "# TYPE a gauge\n# TYPE a counter", "line 2: second TYPE line for 'a'"},
    {"TypeAfterSamples", "a 1\n# TYPE a gauge", "line 2: TYPE line for 'a' after its samples"},
    // Histograms and summaries.
    {"HistogramPlainSample", "# TYPE h histogram\nh 1",
     "line 2: histogram 'h' has no plain samples (expected _bucket, _sum or _count)"},
    {"BucketWithoutLe", "# TYPE h histogram\nh_bucket 1", "line 2: 'h_bucket' has no 'le' label"},
    {"BucketBadLe", "# TYPE h histogram\nh_bucket{le=\"x\"} 1",
     "line 2: 'h_bucket': invalid 'le' value 'x'"},
    {"BucketNaNLe", "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1",
     "line 2: 'h_bucket': invalid 'le' value 'NaN'"},
    {"LeOnSum", "# TYPE h histogram\nh_sum{le=\"1\"} 1",
     "line 2: 'h_sum' must not have a 'le' label"},
    {"NegativeBucketCount", "# TYPE h histogram\nh_bucket{le=\"1\"} -1",
     "line 2: 'h_bucket': a count must be a non-negative integer"},
    {"FractionalCount", "# TYPE h histogram\nh_count 1.5",
     "line 2: 'h_count': a count must be a non-negative integer"},
    {"InfiniteCount", "# TYPE s summary\ns_count +Inf",
     "line 2: 's_count': a count must be a non-negative integer"},
    {"DuplicateBucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1",
     "line 3: duplicate bucket for 'h_bucket'"},
    {"BucketsPrintedAlike",
     "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"0.10000000000000002\"} 1",
     "line 3: duplicate bucket for 'h_bucket'"},
    {"DuplicateHistogramSum", "# TYPE h histogram\nh_sum{a=\"1\"} 1\nh_sum{a=\"1\"} 1",
     "line 3: duplicate sum for 'h_sum' {a='1'}"},
    {"DuplicateHistogramCount", "# TYPE h histogram\nh_count 1\nh_count 1",
     "line 3: duplicate count for 'h_count'"},
    {"QuantileMissing", "# TYPE s summary\ns 1", "line 2: 's' has no 'quantile' label"},
    {"QuantileBad", "# TYPE s summary\ns{quantile=\"\"} 1",
     "line 2: 's': invalid 'quantile' value ''"},
    {"QuantileOnCount", "# TYPE s summary\ns_count{quantile=\"0.5\"} 1",
     "line 2: 's_count' must not have a 'quantile' label"},
    {"DuplicateQuantile", "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.5\"} 2",
     "line 3: duplicate quantile for 's'"},
    {"DuplicateSummarySum", "# TYPE s summary\ns_sum 1\ns_sum 2",
     "line 3: duplicate sum for 's_sum'"},
};

INSTANTIATE_TEST_SUITE_P(All, PromTextBadLine, ::testing::ValuesIn(kBadLines),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PromTextErrors, MessagesQuoteTokensSafely) {
  // Control bytes are escaped and long tokens truncated, so messages are safe to log.
  const std::string text = "foo\x1b[31m" + std::string(200, 'x') + " 1\n";
  const auto result = parse_prometheus_text(text);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message,
            "line 1: invalid metric name 'foo\\x1b[31m" + std::string(72, 'x') + "...'");
}

TEST(PromTextErrors, FamilyNamedLikeAHistogramsSamplesIsDropped) {
  // Re-serialised, h's synthesised h_count line would clash with the untyped h_count family.
  const auto result = parse_prometheus_text("h_count 1\n# TYPE h histogram\nh_sum 1\n");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 1u);
  EXPECT_EQ(
      result.errors[0].message,
      "line 1: family 'h_count' dropped: its name collides with the samples of histogram 'h'");
  ASSERT_EQ(result.families.size(), 1u);
  EXPECT_EQ(result.families[0].name, "h");
}

TEST(PromTextErrors, FamilyTypedLikeASummarysSamplesIsDropped) {
  const auto result =
      parse_prometheus_text("# TYPE s summary\n# TYPE s_sum gauge\ns_sum 1\ns_count 2\n");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message,
            "line 2: family 's_sum' dropped: its name collides with the samples of summary 's'");
  ASSERT_EQ(result.families.size(), 1u);
  EXPECT_EQ(result.families[0].metric.at(0).summary.sample_count, 2u);
}

TEST(PromTextErrors, BadSampleDoesNotCreateAFamily) {
  const auto result = parse_prometheus_text("# TYPE h histogram\nh_bucket 1\n");
  EXPECT_EQ(result.errors.size(), 1u);
  EXPECT_TRUE(result.families.empty());
}

}  // namespace
}  // namespace porthole::telemetry

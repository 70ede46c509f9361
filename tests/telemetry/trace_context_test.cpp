// W3C traceparent parsing/formatting and tracestate pass-through.
#include <gtest/gtest.h>

#include "porthole/telemetry/trace_context.hpp"

namespace porthole::telemetry {
namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceParent, ParsesTheSpecExample) {
  SpanContext c;
  std::string error;
  ASSERT_TRUE(parse_traceparent(kValid, c, error)) << error;
  EXPECT_EQ(c.trace_id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c.span_id.hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(c.sampled());
  EXPECT_TRUE(c.remote);
  EXPECT_EQ(format_traceparent(c), kValid);
}

TEST(TraceParent, FormatsUnsampledAndRejectsInvalidContexts) {
  SpanContext c;
  std::string error;
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", c, error));
  EXPECT_FALSE(c.sampled());
  EXPECT_EQ(format_traceparent(c), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  EXPECT_EQ(format_traceparent(SpanContext{}), "");
}

TEST(TraceParent, AcceptsFutureVersionsByTheirVersion00Prefix) {
  SpanContext c;
  std::string error;
  ASSERT_TRUE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", c,
                                error))
      << error;
  EXPECT_EQ(c.span_id.hex(), "00f067aa0ba902b7");
  ASSERT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", c, error)) << error;
  EXPECT_EQ(c.trace_flags, 0x09);
  // Written back as version 00: we only speak 00.
  EXPECT_EQ(format_traceparent(c).substr(0, 3), "00-");
}

TEST(TraceParent, RejectsMalformedHeaders) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "characters, expected 55"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", "expected 55"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "must be 55"},
      {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"},
      {"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version is not"},
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace-id is all zeros"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent-id is all zeros"},
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace-id is not 32 lowercase"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9z2b7-01", "parent-id is not 16"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", "trace-flags"},
      {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "separated by '-'"},
      {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x", "no '-' after the flags"},
  };
  for (const auto& [header, expected] : cases) {
    SpanContext c;
    std::string error;
    EXPECT_FALSE(parse_traceparent(header, c, error)) << header;
    EXPECT_NE(error.find(expected), std::string::npos) << header << " -> " << error;
    EXPECT_FALSE(c.valid()) << header;  // untouched on failure
  }
}

TEST(TraceState, PassesValidHeadersThroughVerbatimAndDropsBadOnes) {
  EXPECT_EQ(sanitize_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(sanitize_tracestate("a@vendor=x , b=y"), "a@vendor=x , b=y");
  EXPECT_EQ(sanitize_tracestate(""), "");
  EXPECT_EQ(sanitize_tracestate("novalue"), "");
  EXPECT_EQ(sanitize_tracestate("UPPER=x"), "");
  EXPECT_EQ(sanitize_tracestate("k=a,b"), "");
  EXPECT_EQ(sanitize_tracestate(std::string(513, 'a')), "");
  std::string many;
  for (int i = 0; i < 33; ++i) many += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
  EXPECT_EQ(sanitize_tracestate(many), "");
}

TEST(HexIds, ParseEitherCaseAndRejectWrongLengths) {
  TraceId t;
  EXPECT_TRUE(parse_trace_id_hex("4BF92F3577B34DA6A3CE929D0E0E4736", t));
  EXPECT_EQ(t.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_FALSE(parse_trace_id_hex("4bf92f", t));
  SpanId s;
  EXPECT_TRUE(parse_span_id_hex("00f067aa0ba902b7", s));
  EXPECT_FALSE(parse_span_id_hex("00f067aa0ba902b", s));
}

}  // namespace
}  // namespace porthole::telemetry

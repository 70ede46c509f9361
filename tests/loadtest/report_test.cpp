#include "report.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "report_html.hpp"

namespace porthole::loadtest {
namespace {

Report sample_report() {
  Report r;
  r.tool_version = "test";
  r.config.url = "http://127.0.0.1:1/x";
  r.config.scenario = "get";
  r.config.rate = 1000;
  r.config.connections = 4;
  r.config.threads = 2;
  r.config.duration_seconds = 10;
  r.config.warmup_seconds = 1;
  r.config.timeout_seconds = 10;
  r.config.late_threshold_seconds = 0.001;
  r.config.seed = 9;
  r.result.started_at = "2026-01-01T00:00:00Z";
  r.config.traceparent = true;
  r.result.target_rate = 1000;
  r.result.send_rate = 999.9;
  r.result.throughput = 999.5;
  r.result.run_id = 0x0123456789abcdefull;
  r.result.measured_seconds = 10;
  auto& s = r.result.stats;
  for (std::uint64_t i = 1; i <= 9995; ++i) {
    s.latency.record(i * 1234 + 17);
    s.service.record(i * 1000);
  }
  s.latency.record(LatencyHistogram::kDefaultMaxNs * 2);  // clamped
  s.connect.record(250000);
  s.connect.record(310000);
  s.sent_in_window = 9999;
  s.ok_in_window = 9995;
  s.connect_failures = 2;
  s.completed = 9996;
  s.errors = 3;
  s.late = 5;
  s.unsent = 1;
  s.warmup = 1000;
  s.last_done_ns = 9999999999;
  s.bytes_sent = 123;
  s.bytes_received = 456789;
  s.status_classes = {1, 0, 9993, 0, 1, 1};
  s.error_kinds[0] = 9995;  // transport ok, HTTP errors included
  s.error_kinds[static_cast<std::size_t>(RequestError::Timeout)] = 1;
  for (int i = 0; i < 3; ++i) {
    TimelinePoint p(RunStats::kTimelineBits);
    p.completed = 1000 + i;
    p.errors = i;
    p.latency.record(1000000 * (i + 1));
    s.timeline.push_back(std::move(p));
  }
  r.breakdown.entries.push_back({"workload", "demo_request_duration_seconds{path!=\"/metrics\"}", "http://x/metrics",
                                 true, 10, 0.001, 0.0005, 0.0015, 0.002});
  r.breakdown.entries.push_back({"sidecar relay setup", "porthole_relay_setup_duration_seconds{side=\"parent\"}",
                                 "http://x/metrics", false, 4, 0.0001, 0.0001, 0.0002, 0.0003});
  TimeSplit split;
  split.client_seconds = 0.004;
  split.outside_seconds = 0.002;
  split.agent_seconds = 0.001;
  split.workload_seconds = 0.001;
  split.has_enclave = true;
  split.has_workload = true;
  r.breakdown.split = split;
  r.breakdown.notes.push_back("a <note> & more");
  return r;
}

TEST(ReportJson, RoundTripIsLossless) {
  const auto report = sample_report();
  const auto v = report_to_json(report);
  const auto text = to_pretty_json(v);
  const auto back = report_from_json(boost::json::parse(text));
  EXPECT_EQ(boost::json::serialize(report_to_json(back)), boost::json::serialize(v));
  const auto& a = report.result.stats;
  const auto& b = back.result.stats;
  EXPECT_EQ(b.latency.nonzero_buckets(), a.latency.nonzero_buckets());
  EXPECT_EQ(b.latency.clamped(), 1u);
  EXPECT_EQ(b.latency.sum(), a.latency.sum());
  for (double p : standard_percentiles()) EXPECT_EQ(b.latency.percentile(p), a.latency.percentile(p));
  EXPECT_EQ(b.error_kinds, a.error_kinds);
  EXPECT_EQ(b.status_classes, a.status_classes);
  EXPECT_EQ(b.timeline.size(), 3u);
  EXPECT_EQ(back.result.throughput, 999.5);
  EXPECT_EQ(back.result.send_rate, 999.9);
  EXPECT_EQ(back.result.run_id, 0x0123456789abcdefull);
  EXPECT_EQ(b.connect.nonzero_buckets(), a.connect.nonzero_buckets());
  EXPECT_EQ(b.ok_in_window, 9995u);
  EXPECT_EQ(back.breakdown.entries.size(), 2u);
  EXPECT_FALSE(back.breakdown.entries[1].per_request);
  ASSERT_TRUE(back.breakdown.split);
  EXPECT_EQ(back.breakdown.split->agent_seconds, 0.001);
  EXPECT_EQ(back.config.seed, 9u);
  EXPECT_TRUE(back.config.traceparent);
}

TEST(ReportJson, RejectsBrokenReportsNamingTheField) {
  auto v = report_to_json(sample_report());
  v.as_object()["format"] = "other/1";
  EXPECT_THROW(report_from_json(v), std::runtime_error);
  auto w = report_to_json(sample_report());
  w.at("result").as_object().erase("latency");
  try {
    report_from_json(w);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("latency"), std::string::npos);
  }
  auto x = report_to_json(sample_report());
  x.at("result").at("latency").as_object()["count"] = 1;
  EXPECT_THROW(report_from_json(x), std::runtime_error);
  auto old = report_to_json(sample_report());
  old.as_object()["format"] = "porthole-loadtest/1";
  try {
    report_from_json(old);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("older porthole-loadtest"), std::string::npos) << e.what();
  }
  auto y = report_to_json(sample_report());
  y.at("result").at("latency").as_object()["buckets"] = boost::json::array{boost::json::array{99999999, 1}};
  EXPECT_THROW(report_from_json(y), std::runtime_error);
}

TEST(ReportHtml, IsSelfContainedAndEscaped) {
  const auto html = report_to_html(sample_report());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Latency percentile spectrum"), std::string::npos);
  EXPECT_NE(html.find("a &lt;note&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_EQ(html.find("inf"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(ReportText, SummaryStatesRatesAndPrecision) {
  const auto text = format_summary(sample_report());
  EXPECT_NE(text.find("target 1000.0/s"), std::string::npos) << text;
  EXPECT_NE(text.find("sent 999.9/s (99.99%)"), std::string::npos) << text;
  EXPECT_NE(text.find("successful 999.5/s (99.95%)"), std::string::npos) << text;
  EXPECT_NE(text.find("trace-ids start with 0123456789abcdef"), std::string::npos) << text;
  EXPECT_NE(text.find("2 opened"), std::string::npos) << text;
  EXPECT_NE(text.find("mean per request 4ms = outside the enclave (network + sidecar + vsock) 2ms (50%) + agent "
                      "1ms (25%) + workload 1ms (25%)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(per connection) porthole_relay_setup"), std::string::npos) << text;
  EXPECT_NE(text.find("coordinated omission corrected"), std::string::npos);
  EXPECT_NE(text.find("timeout=1"), std::string::npos) << text;
}

TEST(RequestDump, ListsRequestsInIntendedOrderWithTheirTraceIds) {
  RunResult r;
  r.run_id = 0xabcdef0123456789ull;
  r.run_start_monotonic_ns = 42;
  RequestRecord late;
  late.connection = 1;
  late.index = 3;
  late.intended_ns = 2000;
  late.sent_ns = 2100;
  late.done_ns = 3000;
  late.status = 200;
  RequestRecord early = late;
  early.connection = 0;
  early.index = 7;
  early.intended_ns = 1000;
  early.sent_ns = -1;  // never written
  early.status = 0;
  early.error = RequestError::Connect;
  r.stats.requests = {late, early};
  r.stats.requests_not_dumped = 5;
  const auto text = requests_to_jsonl(r, 2, true);
  std::vector<boost::json::value> lines;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto nl = text.find('\n', at);
    lines.push_back(boost::json::parse(text.substr(at, nl - at)));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].at("format").as_string(), "porthole-loadtest-requests/1");
  EXPECT_EQ(lines[0].at("not_dumped").to_number<std::uint64_t>(), 5u);
  EXPECT_EQ(lines[0].at("trace_id_prefix").as_string(), "abcdef0123456789");
  EXPECT_EQ(lines[1].at("index").to_number<std::uint64_t>(), 7u);
  EXPECT_TRUE(lines[1].at("sent_ns").is_null());
  EXPECT_EQ(lines[1].at("error").as_string(), "connect");
  EXPECT_EQ(lines[2].at("trace_id").as_string(), "abcdef0123456789" "00000001" "00000003");
  EXPECT_EQ(requests_to_jsonl(r, 2, false).find("trace_id\""), std::string::npos);
}

}  // namespace
}  // namespace porthole::loadtest

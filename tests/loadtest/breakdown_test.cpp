#include "breakdown.hpp"

#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

std::string workload(double le1, double le5, double inf, double sum) {
  return "# TYPE demo_request_duration_seconds histogram\n"
         "demo_request_duration_seconds_bucket{path=\"/echo\",le=\"0.001\"} " + std::to_string(le1) + "\n"
         "demo_request_duration_seconds_bucket{path=\"/echo\",le=\"0.005\"} " + std::to_string(le5) + "\n"
         "demo_request_duration_seconds_bucket{path=\"/echo\",le=\"+Inf\"} " + std::to_string(inf) + "\n"
         "demo_request_duration_seconds_sum{path=\"/echo\"} " + std::to_string(sum) + "\n"
         "demo_request_duration_seconds_count{path=\"/echo\"} " + std::to_string(inf) + "\n"
         "# TYPE porthole_relay_setup_duration_seconds histogram\n"
         "porthole_relay_setup_duration_seconds_bucket{side=\"enclave\",path=\"ingress\",route=\"web\",le=\"0.001\"} 4\n"
         "porthole_relay_setup_duration_seconds_bucket{side=\"enclave\",path=\"ingress\",route=\"web\",le=\"+Inf\"} 4\n"
         "porthole_relay_setup_duration_seconds_sum{side=\"enclave\",path=\"ingress\",route=\"web\"} 0.002\n"
         "porthole_relay_setup_duration_seconds_count{side=\"enclave\",path=\"ingress\",route=\"web\"} 4\n";
}

TEST(Breakdown, ReportsTheDeltaOverTheRun) {
  Breakdown b;
  add_breakdown(workload(10, 10, 10, 0.005), workload(110, 210, 210, 0.505), "http://w/metrics", b);
  ASSERT_EQ(b.entries.size(), 1u);  // the relay series did not change
  const auto& e = b.entries[0];
  EXPECT_EQ(e.component, "workload");
  EXPECT_EQ(e.metric, "demo_request_duration_seconds{path=\"/echo\"}");
  EXPECT_DOUBLE_EQ(e.count, 200);
  EXPECT_NEAR(e.mean_seconds, 0.5 / 200, 1e-12);
  // 100 in (0, 1 ms], 100 in (1, 5 ms]: the median is at 1 ms, p99 near 5 ms.
  EXPECT_NEAR(e.p50_seconds, 0.001, 1e-9);
  EXPECT_NEAR(e.p99_seconds, 0.001 + 0.004 * 98.0 / 100, 1e-9);
}

TEST(Breakdown, NamesTheRelaySides) {
  Breakdown b;
  add_breakdown("", workload(0, 0, 0, 0), "http://s/metrics", b);
  ASSERT_EQ(b.entries.size(), 1u);
  EXPECT_EQ(b.entries[0].component, "agent (enclave)");
  EXPECT_DOUBLE_EQ(b.entries[0].count, 4);
}

TEST(Breakdown, FetchRefusesWhatItCannotReach) {
  EXPECT_FALSE(fetch_http("https://127.0.0.1:1/metrics", std::chrono::milliseconds(100)).body);
  EXPECT_FALSE(fetch_http("http://example.invalid:80/metrics", std::chrono::milliseconds(100)).body);
  const auto r = fetch_http("http://127.0.0.1:1/metrics", std::chrono::milliseconds(1000));
  EXPECT_FALSE(r.body);
  EXPECT_NE(r.error.find("connect"), std::string::npos);
}

}  // namespace
}  // namespace porthole::loadtest

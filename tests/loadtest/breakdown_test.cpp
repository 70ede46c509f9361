#include "breakdown.hpp"

#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

// One Prometheus histogram series: (upper bound, cumulative count) buckets, +Inf = count.
std::string series(const std::string& name, const std::string& labels, std::vector<std::pair<std::string, double>> le,
                   double sum) {
  std::string out;
  for (const auto& [bound, n] : le) {
    out += name + "_bucket{" + labels + (labels.empty() ? "" : ",") + "le=\"" + bound + "\"} " + std::to_string(n) + "\n";
  }
  out += name + "_sum{" + labels + "} " + std::to_string(sum) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(le.back().second) + "\n";
  return out;
}

// A sidecar's /metrics: the agent's per-request histogram for two listeners, the workload's
// relayed handler histogram (two paths and its own /metrics scrapes), and a relay setup series.
std::string sidecar(double web, double web_sum, double other, double encrypt, double echo, double workload_sum,
                    double scrapes, double setups) {
  return "# TYPE porthole_http_request_duration_seconds histogram\n" +
         series("porthole_http_request_duration_seconds", "enclave=\"e\",listener=\"web\",side=\"enclave\"",
                {{"0.001", web / 2}, {"0.005", web}, {"+Inf", web}}, web_sum) +
         series("porthole_http_request_duration_seconds", "enclave=\"e\",listener=\"admin\",side=\"enclave\"",
                {{"0.001", other}, {"0.005", other}, {"+Inf", other}}, 0.0005 * other) +
         "# TYPE demo_request_duration_seconds histogram\n" +
         series("demo_request_duration_seconds", "enclave=\"e\",path=\"/encrypt\",side=\"enclave\",target=\"demo\"",
                {{"0.001", encrypt}, {"0.005", encrypt}, {"+Inf", encrypt}}, workload_sum * 0.75) +
         series("demo_request_duration_seconds", "enclave=\"e\",path=\"/echo\",side=\"enclave\",target=\"demo\"",
                {{"0.001", echo}, {"0.005", echo}, {"+Inf", echo}}, workload_sum * 0.25) +
         series("demo_request_duration_seconds", "enclave=\"e\",path=\"/metrics\",side=\"enclave\",target=\"demo\"",
                {{"0.001", scrapes}, {"0.005", scrapes}, {"+Inf", scrapes}}, 0.0001 * scrapes) +
         "# TYPE porthole_relay_setup_duration_seconds histogram\n" +
         series("porthole_relay_setup_duration_seconds", "path=\"ingress\",route=\"web\",side=\"parent\"",
                {{"0.001", setups}, {"+Inf", setups}}, 0.0002 * setups);
}

const BreakdownEntry* find(const Breakdown& b, const std::string& component) {
  for (const auto& e : b.entries) {
    if (e.component == component) return &e;
  }
  return nullptr;
}

TEST(Breakdown, PerRequestHistogramsAsTheirChangeOverTheRun) {
  Breakdown b;
  // During the run: 200 requests through listener web (mean 2 ms), 150 /encrypt + 50 /echo in the
  // workload (mean 1 ms), 3 /metrics scrapes, 8 new connections; listener admin unchanged.
  add_breakdown(sidecar(100, 0.1, 5, 80, 20, 0.08, 10, 2), sidecar(300, 0.5, 5, 230, 70, 0.28, 13, 10),
                "http://s/metrics", b);
  const auto* enclave = find(b, "enclave (agent)");
  ASSERT_TRUE(enclave);
  EXPECT_EQ(enclave->metric,
            "porthole_http_request_duration_seconds{enclave=\"e\",listener=\"web\",side=\"enclave\"}");
  EXPECT_DOUBLE_EQ(enclave->count, 200);
  EXPECT_NEAR(enclave->mean_seconds, 0.002, 1e-12);
  // 100 in (0, 1 ms], 100 in (1, 5 ms]: interpolated like histogram_quantile.
  EXPECT_NEAR(enclave->p50_seconds, 0.001, 1e-9);
  EXPECT_NEAR(enclave->p90_seconds, 0.001 + 0.004 * 80.0 / 100, 1e-9);
  EXPECT_NEAR(enclave->p99_seconds, 0.001 + 0.004 * 98.0 / 100, 1e-9);
  const auto* workload = find(b, "workload");
  ASSERT_TRUE(workload);
  EXPECT_DOUBLE_EQ(workload->count, 200);  // both paths, not the scrapes of /metrics
  EXPECT_NEAR(workload->mean_seconds, 0.001, 1e-12);
  EXPECT_EQ(workload->metric, "demo_request_duration_seconds{enclave=\"e\",side=\"enclave\",target=\"demo\",path!=\"/metrics\"}");
  const auto* setup = find(b, "sidecar relay setup");
  ASSERT_TRUE(setup);
  EXPECT_FALSE(setup->per_request);
  EXPECT_DOUBLE_EQ(setup->count, 8);
  EXPECT_TRUE(b.notes.empty());

  // The client got 200 responses with a mean service time of 3 ms: 1 ms outside the enclave,
  // 1 ms in the agent, 1 ms in the workload.
  LatencyHistogram client(10);
  for (int i = 0; i < 200; ++i) client.record(i % 2 ? 4000000 : 2000000);
  finish_breakdown(client, b);
  EXPECT_EQ(b.entries.front().component, "client");
  EXPECT_DOUBLE_EQ(b.entries.front().count, 200);
  ASSERT_TRUE(b.split);
  EXPECT_NEAR(b.split->client_seconds, 0.003, 1e-12);
  EXPECT_NEAR(b.split->outside_seconds, 0.001, 1e-12);
  EXPECT_NEAR(b.split->agent_seconds, 0.001, 1e-12);
  EXPECT_NEAR(b.split->workload_seconds, 0.001, 1e-12);
  EXPECT_TRUE(b.notes.empty()) << b.notes.front();
  EXPECT_EQ(server_request_count(b), 200);
}

TEST(Breakdown, AnotherBusyListenerIsNamedAndCountsThatDoNotMatchAreNoted) {
  Breakdown b;
  add_breakdown(sidecar(0, 0, 0, 0, 0, 0, 0, 0), sidecar(100, 0.1, 40, 100, 0, 0.1, 0, 0), "http://s/metrics", b);
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_NE(b.notes[0].find("listener=\"admin\""), std::string::npos) << b.notes[0];
  LatencyHistogram client(10);
  for (int i = 0; i < 150; ++i) client.record(3000000);
  finish_breakdown(client, b);
  ASSERT_EQ(b.notes.size(), 3u);  // the agent's and the workload's counts differ from the client's
  EXPECT_NE(b.notes[1].find("counted 100 requests, the client 150"), std::string::npos) << b.notes[1];
}

TEST(Breakdown, AStaleWorkloadSnapshotKeepsTheEndScrapeWaiting) {
  Breakdown b;
  // The agent counted the run; the workload's relayed snapshot has not caught up yet.
  add_breakdown(sidecar(0, 0, 0, 50, 0, 0.05, 0, 0), sidecar(100, 0.2, 0, 50, 0, 0.05, 0, 0), "http://s/metrics", b);
  const auto* workload = find(b, "workload");
  ASSERT_TRUE(workload);
  EXPECT_DOUBLE_EQ(workload->count, 0);
  EXPECT_EQ(server_request_count(b), 0);
  LatencyHistogram client(10);
  for (int i = 0; i < 100; ++i) client.record(3000000);
  finish_breakdown(client, b);
  ASSERT_TRUE(b.split);  // from the agent alone: no workload share
  EXPECT_FALSE(b.split->has_workload);
  EXPECT_NEAR(b.split->agent_seconds, 0.002, 1e-12);
  EXPECT_NEAR(b.split->outside_seconds, 0.001, 1e-12);
}

TEST(Breakdown, NothingKnownMeansNoSplit) {
  Breakdown b;
  add_breakdown("", "# TYPE other_seconds histogram\nother_seconds_bucket{le=\"+Inf\"} 3\nother_seconds_sum 1\n"
                    "other_seconds_count 3\n",
                "http://s/metrics", b);
  EXPECT_FALSE(server_request_count(b));
  finish_breakdown(LatencyHistogram(10), b);
  EXPECT_FALSE(b.split);
  ASSERT_EQ(b.entries.size(), 1u);  // the client's own
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

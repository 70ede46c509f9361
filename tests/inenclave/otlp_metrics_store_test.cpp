// OtlpMetricsStore: what the agent serves from the workload's OTLP metrics — latest values,
// deltas added up, the policy applied, the caps, staleness on manual time, merging with the
// agent's own families, and ingest/collect from two threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <prometheus/registry.h>

#include "../telemetry/otlp_metrics_samples.hpp"
#include "porthole/agent/otlp_metrics_store.hpp"
#include "porthole/common/manual_time.hpp"

namespace porthole::agent {
namespace {

using telemetry::AggregationTemporality;
using telemetry::samples::find_series;
using namespace telemetry::samples;
using Labels = std::vector<prometheus::ClientMetric::Label>;
using Result = OtlpMetricsStore::Result;

class OtlpMetricsStoreTest : public ::testing::Test {
 protected:
  std::vector<prometheus::MetricFamily> collect() {
    std::vector<prometheus::MetricFamily> families;
    store_.append_to(families);
    return families;
  }
  double metric(const std::string& name, const std::string& label = "", const std::string& value = "") {
    for (const auto& f : registry_.Collect()) {
      if (f.name != name) continue;
      for (const auto& m : f.metric) {
        bool match = label.empty();
        for (const auto& l : m.label) match |= l.name == label && l.value == value;
        if (!match) continue;
        return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
    }
    return -1;
  }
  double points(Result r) { return metric("porthole_otlp_metrics_points_total", "result", std::string(OtlpMetricsStore::to_string(r))); }

  ManualTimeSource time_;
  prometheus::Registry registry_;
  telemetry::TelemetryPolicy policy_ = telemetry::default_telemetry_policy();
  OtlpMetricsConfig config_;
  OtlpMetricsStore store_{config_, policy_, registry_, time_};
};

TEST_F(OtlpMetricsStoreTest, KeepsTheLatestValueAndServesItWithoutTimestamps) {
  auto outcome = store_.ingest(batch({gauge("temp", {number(20, {{"room", "a"}})}), sum("hits", {integer(5)})}));
  EXPECT_EQ(outcome.offered, 2u);
  EXPECT_EQ(outcome.rejected, 0u);
  EXPECT_EQ(outcome.message, "");
  store_.ingest(batch({gauge("temp", {number(21, {{"room", "a"}})}), sum("hits", {integer(9)})}));
  const auto families = collect();
  const auto* temp = find_series(families, "temp", {{"room", "a"}, {"job", "shop"}});
  ASSERT_NE(temp, nullptr);
  EXPECT_EQ(temp->gauge.value, 21);
  EXPECT_EQ(temp->timestamp_ms, 0);
  ASSERT_NE(find_series(families, "hits_total"), nullptr);
  EXPECT_EQ(find_series(families, "hits_total")->counter.value, 9);
  EXPECT_EQ(store_.series(), 2u);
  EXPECT_EQ(metric("porthole_otlp_metrics_series"), 2);
  EXPECT_EQ(points(Result::Accepted), 4);
}

TEST_F(OtlpMetricsStoreTest, DeltasAddUpAndARetriedExportIsNotCountedTwice) {
  auto delta = [](std::int64_t v, std::uint64_t start, std::uint64_t end) {
    auto p = integer(v);
    p.start_time_unix_nano = start;
    p.time_unix_nano = end;
    return batch({sum("jobs", {p}, true, AggregationTemporality::Delta),
                  sum("queue", {p}, false, AggregationTemporality::Delta)});
  };
  store_.ingest(delta(3, 100, 200));
  store_.ingest(delta(4, 200, 300));
  store_.ingest(delta(4, 200, 300));  // the exporter retried
  store_.ingest(delta(-2, 300, 400));
  const auto families = collect();
  EXPECT_EQ(find_series(families, "jobs_total")->counter.value, 3 + 4 - 2);
  EXPECT_EQ(find_series(families, "queue")->gauge.value, 3 + 4 - 2);  // an up-down counter: the current value
  EXPECT_EQ(points(Result::DroppedDuplicate), 2);

  telemetry::HistogramDataPoint h1 = histogram_point({1, 2}, {1, 0, 1});
  telemetry::HistogramDataPoint h2 = histogram_point({1, 2}, {0, 2, 0});
  h2.start_time_unix_nano = 2000;
  h2.time_unix_nano = 3000;
  store_.ingest(batch({histogram("lat", {h1}, AggregationTemporality::Delta)}));
  store_.ingest(batch({histogram("lat", {h2}, AggregationTemporality::Delta)}));
  const auto after = collect();
  const auto* lat = find_series(after, "lat");
  ASSERT_NE(lat, nullptr);
  ASSERT_EQ(lat->histogram.bucket.size(), 2u);
  EXPECT_EQ(lat->histogram.bucket[0].cumulative_count, 1u);
  EXPECT_EQ(lat->histogram.bucket[1].cumulative_count, 3u);
  EXPECT_EQ(lat->histogram.sample_count, 4u);
  EXPECT_EQ(lat->histogram.sample_sum, 25);
}

TEST_F(OtlpMetricsStoreTest, ThePolicyIsAppliedBeforeStoringAndCounted) {
  policy_.metric_names.deny = {"debug_*"};
  policy_.metric_labels.deny = {"user_id"};
  policy_.max_value_bytes = 16;
  const auto outcome = store_.ingest(batch({gauge("debug.cache", {number(1), number(2, {{"k", "v"}})}),
                                            gauge("free", {number(3, {{"user_id", "alice"}, {"room", std::string(40, 'r')}})})}));
  EXPECT_EQ(outcome.rejected, 0u);  // a filter, not the sender's fault
  const auto families = collect();
  EXPECT_EQ(find_series(families, "debug_cache"), nullptr);
  const auto* free = find_series(families, "free");
  ASSERT_NE(free, nullptr);
  for (const auto& l : free->label) {
    EXPECT_NE(l.name, "user_id");
    if (l.name == "room") {
      EXPECT_EQ(l.value, std::string(16, 'r'));
    }
  }
  EXPECT_EQ(points(Result::DroppedPolicy), 2);
  EXPECT_EQ(points(Result::Accepted), 1);
  auto actions = [&](const std::string& kind, const std::string& reason) {
    for (const auto& f : registry_.Collect()) {
      if (f.name != "porthole_telemetry_policy_actions_total") continue;
      for (const auto& m : f.metric) {
        int match = 0;
        for (const auto& l : m.label) match += (l.name == "kind" && l.value == kind) + (l.name == "reason" && l.value == reason);
        if (match == 2) return m.counter.value;
      }
    }
    return -1.0;
  };
  EXPECT_EQ(actions("metric_family", "not_allowed"), 1);
  EXPECT_EQ(actions("metric_label", "not_allowed"), 1);
  EXPECT_EQ(actions("metric_label", "truncated"), 1);
}

TEST_F(OtlpMetricsStoreTest, SeriesCapsRefuseNewSeriesButKeepUpdatingOldOnes) {
  config_.max_series = 3;
  std::vector<telemetry::NumberDataPoint> five;
  for (int i = 0; i < 5; ++i) five.push_back(number(i, {{"n", std::to_string(i)}}));
  auto outcome = store_.ingest(batch({gauge("g", five)}));
  EXPECT_EQ(outcome.offered, 5u);
  EXPECT_EQ(outcome.rejected, 2u);
  EXPECT_EQ(outcome.message,
            "2 of 5 data points rejected: 2 beyond the series caps (telemetry.metrics.max_series 3, "
            "telemetry.policy.max_series_per_family 2000)");
  EXPECT_EQ(store_.series(), 3u);
  EXPECT_EQ(points(Result::RejectedSeriesCap), 2);
  outcome = store_.ingest(batch({gauge("g", {number(100, {{"n", "0"}})})}));
  EXPECT_EQ(outcome.rejected, 0u);
  EXPECT_EQ(find_series(collect(), "g", {{"n", "0"}})->gauge.value, 100);

  // The policy's per-family cap holds across requests too.
  policy_.max_series_per_family = 1;
  config_.max_series = 100;
  outcome = store_.ingest(batch({gauge("other", {number(1, {{"n", "a"}})}), gauge("other", {number(1, {{"n", "b"}})})}));
  EXPECT_EQ(outcome.rejected, 1u);
  outcome = store_.ingest(batch({gauge("other", {number(1, {{"n", "c"}})})}));
  EXPECT_EQ(outcome.rejected, 1u);
  EXPECT_EQ(points(Result::RejectedSeriesCap), 4);
}

TEST_F(OtlpMetricsStoreTest, TheByteBudgetRefusesNewSeries) {
  config_.max_bytes = 1000;
  std::vector<telemetry::NumberDataPoint> many;
  for (int i = 0; i < 50; ++i) many.push_back(number(i, {{"n", std::to_string(i)}}));
  const auto outcome = store_.ingest(batch({gauge("g", many)}));
  EXPECT_GT(outcome.rejected, 0u);
  EXPECT_LT(outcome.rejected, 50u);
  EXPECT_NE(outcome.message.find("beyond telemetry.metrics.max_bytes (1000)"), std::string::npos) << outcome.message;
  EXPECT_LE(metric("porthole_otlp_metrics_bytes"), 1000);
  EXPECT_EQ(points(Result::RejectedBytesCap), static_cast<double>(outcome.rejected));
}

TEST_F(OtlpMetricsStoreTest, StaleSeriesAreRemovedAndCounted) {
  store_.ingest(batch({gauge("a", {number(1)}), gauge("b", {number(2)})}));
  time_.advance(config_.staleness - std::chrono::seconds(10));
  store_.ingest(batch({gauge("b", {number(3)})}));
  EXPECT_EQ(collect().size(), 2u);
  time_.advance(std::chrono::seconds(10));  // a: not updated for `staleness`
  auto families = collect();
  EXPECT_EQ(find_series(families, "a"), nullptr);
  ASSERT_NE(find_series(families, "b"), nullptr);
  EXPECT_EQ(store_.series(), 1u);
  EXPECT_EQ(metric("porthole_otlp_metrics_series_removed_total", "reason", "stale"), 1);
  time_.advance(config_.staleness);
  EXPECT_TRUE(collect().empty());
  EXPECT_EQ(metric("porthole_otlp_metrics_series"), 0);
  EXPECT_EQ(metric("porthole_otlp_metrics_bytes"), 0);
}

TEST_F(OtlpMetricsStoreTest, RejectedPointsAreReportedWithTheFirstError) {
  const auto outcome = store_.ingest(batch({gauge("porthole.up", {number(1)}), gauge("ok", {number(1)}),
                                            gauge("nan", {telemetry::NumberDataPoint{}})}));
  EXPECT_EQ(outcome.rejected, 2u);
  EXPECT_EQ(outcome.message,
            "2 of 3 data points rejected: 1 invalid, 1 with a reserved name; first: metric 'porthole.up': 'porthole_up' "
            "is reserved for the agent's own metrics (porthole_*, target_info)");
  EXPECT_EQ(points(Result::RejectedReservedName), 1);
  EXPECT_EQ(points(Result::RejectedInvalid), 1);
  EXPECT_EQ(points(Result::Accepted), 1);
}

TEST_F(OtlpMetricsStoreTest, JoinsTheAgentsFamiliesAndLeavesOutTypeConflicts) {
  store_.ingest(batch({sum("process.cpu", {number(1.5)}, true, AggregationTemporality::Cumulative, "s"),
                       gauge("process_open_fds", {number(7)})}));
  // A type conflict inside the store: the family keeps its first type.
  EXPECT_EQ(store_.ingest(batch({gauge("process.cpu.seconds.total", {number(1)})})).rejected, 1u);
  EXPECT_EQ(points(Result::RejectedTypeConflict), 1);

  std::vector<prometheus::MetricFamily> families(2);
  families[0].name = "process_cpu_seconds_total";
  families[0].type = prometheus::MetricType::Counter;
  families[0].metric.emplace_back().label = {{"side", "enclave"}};
  families[1].name = "process_open_fds";
  families[1].type = prometheus::MetricType::Counter;  // the OTLP one is a gauge
  store_.append_to(families);
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[1].counter.value, 1.5);
  EXPECT_TRUE(families[1].metric.empty());
  EXPECT_EQ(metric("porthole_otlp_metrics_families_dropped_total", "reason", "type_conflict"), 1);
}

// Ingest on two threads while a third collects, as the receiver's thread and the io thread do.
// Run under ASan here; it shows no crash, no lost series and consistent counts.
TEST_F(OtlpMetricsStoreTest, IngestAndCollectFromSeveralThreads) {
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> collected{0};
  std::thread collector([&] {
    while (!stop.load()) {
      std::vector<prometheus::MetricFamily> families;
      store_.append_to(families);
      collected += families.size();
    }
  });
  auto producer = [&](const std::string& who) {
    for (int i = 0; i < 200; ++i) {
      auto h = histogram_point({1, 2}, {1, 1, 1}, {{"who", who}}, 2000 + i);
      h.start_time_unix_nano = 1999 + i;
      store_.ingest(batch({sum("ops", {number(i, {{"who", who}, {"n", std::to_string(i % 10)}})}),
                           histogram("lat", {h}, AggregationTemporality::Delta)}));
    }
  };
  std::thread a(producer, "a"), b(producer, "b");
  a.join();
  b.join();
  stop = true;
  collector.join();
  EXPECT_EQ(store_.series(), 2u * 10 + 2);  // ops per who and n, lat per who
  EXPECT_EQ(points(Result::Accepted), 2 * 200 * 2);
  EXPECT_EQ(find_series(collect(), "lat", {{"who", "a"}})->histogram.sample_count, 200u * 3);
  EXPECT_EQ(find_series(collect(), "ops_total", {{"who", "b"}, {"n", "9"}})->counter.value, 199);
}

}  // namespace
}  // namespace porthole::agent

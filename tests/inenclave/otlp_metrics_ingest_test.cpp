// POST /v1/metrics through OtlpIngest: what each request gets back (status, body, encoding,
// partial success) and what reaches the OtlpMetricsStore; /v1/metrics when metrics are off.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <prometheus/registry.h>

#include "../telemetry/otlp_metrics_samples.hpp"
#include "porthole/agent/otlp_ingest.hpp"
#include "porthole/agent/otlp_metrics_store.hpp"
#include "porthole/common/manual_time.hpp"
#include "porthole/telemetry/gzip.hpp"
#include "porthole/telemetry/otlp_metrics.hpp"

namespace porthole::agent {
namespace {

using namespace telemetry::samples;

template <class Item>
class RefusingSink final : public telemetry::ItemSink<Item> {
 public:
  bool submit(Item&&) override { return false; }
};

class OtlpMetricsIngestTest : public ::testing::Test {
 protected:
  OtlpHttpResponse post(OtlpIngest& ingest, std::string type, std::string body, std::string encoding = "",
                        std::string target = "/v1/metrics") {
    return ingest.handle({"POST", std::move(target), std::move(type), std::move(encoding), std::move(body)});
  }
  OtlpHttpResponse post(std::string type, std::string body, std::string encoding = "") {
    return post(ingest_, std::move(type), std::move(body), std::move(encoding));
  }
  double requests(const std::string& code) {
    for (const auto& f : registry_.Collect()) {
      if (f.name != "porthole_otlp_receiver_requests_total") continue;
      for (const auto& m : f.metric) {
        int match = 0;
        for (const auto& l : m.label) match += (l.name == "signal" && l.value == "metrics") + (l.name == "code" && l.value == code);
        if (match == 2) return m.counter.value;
      }
    }
    return -1;
  }
  std::vector<prometheus::MetricFamily> served() {
    std::vector<prometheus::MetricFamily> families;
    store_.append_to(families);
    return families;
  }

  ManualTimeSource time_;
  prometheus::Registry registry_;
  telemetry::TelemetryPolicy policy_ = telemetry::default_telemetry_policy();
  OtlpMetricsConfig config_;
  RefusingSink<telemetry::SpanItem> spans_;
  RefusingSink<telemetry::LogItem> logs_;
  OtlpMetricsStore store_{config_, policy_, registry_, time_};
  OtlpIngest ingest_{policy_, spans_, logs_, registry_, 64 * 1024, time_, &store_};
};

TEST_F(OtlpMetricsIngestTest, ProtobufIsStoredAndAnsweredWithAnEmptyResponse) {
  const auto r = post("application/x-protobuf", telemetry::encode_metrics_request(every_kind()));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  EXPECT_EQ(r.body, "");  // full success: an empty ExportMetricsServiceResponse
  EXPECT_NE(find_series(served(), "requests_total", {{"code", "200"}}), nullptr);
  EXPECT_EQ(requests("200"), 1);
}

TEST_F(OtlpMetricsIngestTest, JsonAndGzipToo) {
  const std::string json = R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"up","gauge":{"dataPoints":[{"asInt":"1"}]}}]}]}]})";
  auto r = post("application/json; charset=utf-8", json);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{}");
  ASSERT_NE(find_series(served(), "up"), nullptr);

  r = post("application/x-protobuf",
           *telemetry::gzip_compress(telemetry::encode_metrics_request(batch({gauge("zipped", {number(2)})}))), "gzip");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(find_series(served(), "zipped")->gauge.value, 2);
}

TEST_F(OtlpMetricsIngestTest, RefusedPointsAreAPartialSuccess) {
  config_.max_series = 1;
  auto r = post("application/x-protobuf",
                telemetry::encode_metrics_request(batch({gauge("a", {number(1)}), gauge("porthole.b", {number(2)}),
                                                         gauge("c", {number(3)})})));
  EXPECT_EQ(r.status, 200u);
  telemetry::OtlpPartialSuccess partial;
  std::string error;
  ASSERT_TRUE(telemetry::decode_trace_response(r.body, partial, error)) << error;
  EXPECT_EQ(partial.rejected, 2);
  EXPECT_EQ(partial.error_message.rfind("2 of 3 data points rejected: 1 with a reserved name, 1 beyond the series caps", 0), 0u)
      << partial.error_message;

  r = post("application/json", R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"d","gauge":{"dataPoints":[{}]}}]}]}]})");
  EXPECT_EQ(r.status, 200u);
  const auto body = boost::json::parse(r.body);
  EXPECT_EQ(body.at("partialSuccess").at("rejectedDataPoints"), "1");
  EXPECT_EQ(body.at("partialSuccess").at("errorMessage"),
            "1 of 1 data points rejected: 1 invalid; first: metric 'd': data point 0: no value (neither as_double nor as_int)");
}

TEST_F(OtlpMetricsIngestTest, MalformedUnsupportedAndTooLarge) {
  auto r = post("application/x-protobuf", "\x0a\x05\x01");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("malformed ExportMetricsServiceRequest: length 5 exceeds the 1 bytes left"), std::string::npos);
  r = post("application/json", R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"asInt":true}]}}]}]}]})");
  EXPECT_EQ(r.status, 400u);
  const auto status = boost::json::parse(r.body);
  EXPECT_EQ(status.at("code"), 3);
  EXPECT_EQ(status.at("message"),
            "malformed ExportMetricsServiceRequest: resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt: "
            "expected an integer in range");
  EXPECT_EQ(post("application/x-protobuf", "not gzip", "gzip").status, 400u);
  EXPECT_EQ(post("text/plain", "x").status, 415u);
  EXPECT_EQ(post("application/x-protobuf", "", "br").status, 415u);
  EXPECT_EQ(ingest_.too_large("/v1/metrics", "application/x-protobuf").status, 413u);
  EXPECT_EQ(ingest_.handle({"GET", "/v1/metrics", "application/x-protobuf", "", ""}).status, 405u);
  EXPECT_EQ(requests("400"), 3);
  EXPECT_EQ(requests("415"), 2);
  EXPECT_EQ(requests("413"), 1);
  EXPECT_EQ(store_.series(), 0u);
}

TEST_F(OtlpMetricsIngestTest, WithoutAStoreMetricsAre404) {
  prometheus::Registry registry;
  OtlpIngest no_metrics{policy_, spans_, logs_, registry, 64 * 1024, time_};
  const auto r = post(no_metrics, "application/json", "{}");
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.body.find("telemetry.metrics.enabled is false"), std::string::npos) << r.body;
  // Traces still work.
  EXPECT_EQ(post(no_metrics, "application/json", "{}", "", "/v1/traces").status, 200u);
}

}  // namespace
}  // namespace porthole::agent

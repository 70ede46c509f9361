// What the agent's OTLP/HTTP receiver does with one request, apart from HTTP transport: pick the
// signal by path, check method, media type and content encoding, decompress and decode (with
// limits: the workload is trusted, but its bugs must not take the agent down), apply the
// telemetry policy, split into items and submit them to the batch processors (metrics: hand them
// to the OtlpMetricsStore, docs/telemetry-metrics.md). The answer is
// the OTLP/HTTP one: 200 with an Export*ServiceResponse in the request's encoding (with
// partial_success when the processors' queues refused items), 400 with a google.rpc.Status
// for malformed input, 404, 405, 413 and 415.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/telemetry/item_sink.hpp"
#include "porthole/telemetry/otlp_proto.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace prometheus {
class Registry;
class Counter;
template <typename T>
class Family;
}  // namespace prometheus

namespace porthole::agent {

class OtlpMetricsStore;

struct OtlpHttpRequest {
  std::string method;            // "POST"
  std::string target;            // "/v1/traces"
  std::string content_type;      // as sent, parameters included
  std::string content_encoding;  // "", "identity" or "gzip"
  std::string body;
};

struct OtlpHttpResponse {
  unsigned status = 200;
  std::string content_type = "application/x-protobuf";
  std::string body;
  bool allow_post_header = false;  // 405: "Allow: POST"
};

class OtlpIngest {
 public:
  OtlpIngest(const telemetry::TelemetryPolicy& policy, telemetry::SpanProcessor& spans,
             telemetry::LogProcessor& logs, prometheus::Registry& registry, std::size_t max_request_bytes,
             TimeSource& time, OtlpMetricsStore* metrics = nullptr);  // null: /v1/metrics is 404

  OtlpHttpResponse handle(OtlpHttpRequest&& request);
  // For requests the HTTP layer refused before a body was read (body too large: 413).
  OtlpHttpResponse too_large(std::string_view target, std::string_view content_type);

 private:
  enum class Signal { Traces, Logs, Metrics, Other };
  Signal signal_of(std::string_view target) const;
  OtlpHttpResponse handle_metrics(std::string_view body, bool json);
  OtlpHttpResponse finish(Signal signal, OtlpHttpResponse response);
  OtlpHttpResponse error(Signal signal, bool json, unsigned status, const std::string& message);
  void warn(const std::string& what);

  const telemetry::TelemetryPolicy& policy_;
  telemetry::SpanProcessor& spans_;
  telemetry::LogProcessor& logs_;
  OtlpMetricsStore* metrics_;
  telemetry::PolicyMetrics policy_metrics_;
  std::size_t max_request_bytes_;
  telemetry::OtlpDecodeLimits limits_;
  TimeSource& time_;
  std::shared_ptr<spdlog::logger> log_;
  prometheus::Family<prometheus::Counter>& requests_;
  MonoTime last_warning_{};
  std::uint64_t suppressed_warnings_ = 0;
};

}  // namespace porthole::agent

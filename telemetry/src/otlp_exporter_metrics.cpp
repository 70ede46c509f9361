#include "otlp_exporter_metrics.hpp"

namespace porthole::telemetry {

OtlpExporterMetrics::OtlpExporterMetrics(prometheus::Registry& registry, const std::string& side) {
  const prometheus::Labels constant{{"side", side}};
  auto& requests = prometheus::BuildCounter()
                       .Name("porthole_exporter_requests_total")
                       .Help("OTLP/HTTP export attempts, by signal and outcome.")
                       .Labels(constant)
                       .Register(registry);
  auto& exported = prometheus::BuildCounter()
                       .Name("porthole_exporter_items_exported_total")
                       .Help("Spans, log records or metric points the collector accepted.")
                       .Labels(constant)
                       .Register(registry);
  auto& dropped = prometheus::BuildCounter()
                      .Name("porthole_exporter_items_dropped_total")
                      .Help("Items the exporter gave up on, by signal and reason.")
                      .Labels(constant)
                      .Register(registry);
  auto& retries = prometheus::BuildCounter()
                      .Name("porthole_exporter_retries_total")
                      .Help("Export attempts scheduled again after a retryable failure.")
                      .Labels(constant)
                      .Register(registry);
  auto& duration = prometheus::BuildHistogram()
                       .Name("porthole_exporter_request_duration_seconds")
                       .Help("Duration of one export attempt, connect to response.")
                       .Labels(constant)
                       .Register(registry);
  auto& up = prometheus::BuildGauge()
                 .Name("porthole_exporter_up")
                 .Help("1 when the collector answered the latest export attempt for the signal with any HTTP status (or "
                       "none was made yet); 0 when it could not be reached (connection error or timeout).")
                 .Labels(constant)
                 .Register(registry);
  auto& queue = prometheus::BuildGauge()
                    .Name("porthole_exporter_queue_bytes")
                    .Help("Bytes of request bodies waiting to be exported or retried.")
                    .Labels(constant)
                    .Register(registry);
  auto& queue_requests = prometheus::BuildGauge()
                             .Name("porthole_exporter_queue_requests")
                             .Help("Requests waiting to be exported or retried.")
                             .Labels(constant)
                             .Register(registry);
  queue_bytes_ = &queue.Add({});
  queue_requests_ = &queue_requests.Add({});

  const prometheus::Histogram::BucketBoundaries buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                        0.25,  0.5,    1,     2.5,  5,     10,   30};
  for (auto s : kOtlpSignals) {
    const std::string name(to_string(s));
    auto& per = signals_[index_of(s)];
    // Every series exists from the start at zero, so rate() and alerts see the first event.
    for (auto outcome : {kOutcomeSuccess, kOutcomeRetryableStatus, kOutcomeRejected, kOutcomeConnectionError,
                         kOutcomeTimeout}) {
      per.requests.emplace(std::string(outcome), &requests.Add({{"signal", name}, {"outcome", std::string(outcome)}}));
    }
    for (auto reason : {kDropBufferFull, kDropRejected4xx, kDropRejected5xx, kDropRejectedOther, kDropRetryExpired,
                        kDropShutdown, kDropDisabled}) {
      per.dropped.emplace(std::string(reason), &dropped.Add({{"signal", name}, {"reason", std::string(reason)}}));
    }
    per.exported = &exported.Add({{"signal", name}});
    per.retries = &retries.Add({{"signal", name}});
    per.duration = &duration.Add({{"signal", name}}, buckets);
    per.up = &up.Add({{"signal", name}});
    per.up->Set(1);
  }
}

void OtlpExporterMetrics::attempt(OtlpSignal s, std::string_view outcome, double seconds) {
  auto& per = signals_[index_of(s)];
  per.requests.find(outcome)->second->Increment();
  per.duration->Observe(seconds);
  // Like Prometheus' own `up`: reachability, not success. A collector that rejects one bad
  // request is up; whether exports succeed is what requests_total{outcome} tells.
  per.up->Set(outcome == kOutcomeConnectionError || outcome == kOutcomeTimeout ? 0 : 1);
}

void OtlpExporterMetrics::dropped(OtlpSignal s, std::string_view reason, std::uint64_t items) {
  signals_[index_of(s)].dropped.find(reason)->second->Increment(static_cast<double>(items));
}

}  // namespace porthole::telemetry

// The sidecar's OTLP/HTTP exporter: posts already-encoded OTLP request bodies (protobuf or
// JSON, made by the codec) to a collector, one request at a time per signal over a keep-alive
// connection. It retries only what OTLP says is retryable (429, 502, 503, 504, connection
// errors, timeouts), honours a positive Retry-After exactly (giving up at once, retry_expired,
// when it asks for a wait beyond the request's max_elapsed budget), otherwise backs off
// exponentially with jitter, and holds waiting requests in one bounded buffer. Everything it
// gives up on is counted by reason. porthole_exporter_up is reachability: 1 when the collector
// answered the latest attempt with any HTTP status, 0 after a connection error or timeout.
//
// Threading: every method must be called on the executor's thread (the sidecar's io_context);
// enqueue() never blocks and never does I/O itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>

#include "porthole/common/time.hpp"
#include "porthole/telemetry/otlp_exporter_config.hpp"
#include "porthole/telemetry/otlp_signal.hpp"

namespace porthole::telemetry {

class OtlpHttpExporter {
 public:
  // Called for every 2xx response with its (possibly empty) body, so the codec can decode an
  // ExportPartialSuccess and count rejected items. The exporter itself parses nothing.
  using ResponseCallback = std::function<void(OtlpSignal signal, unsigned status, std::string_view body)>;

  struct Options {
    std::string side = "parent";  // the `side` label on every metric
    // Uniform [0, 1) source for backoff jitter; defaults to a seeded PRNG. Tests inject one.
    std::function<double()> uniform01;
    ResponseCallback on_response;
  };

  // Throws ConfigError when an endpoint in `config` is not a usable http:// URL.
  OtlpHttpExporter(boost::asio::any_io_executor executor, TimeSource& time, prometheus::Registry& registry,
                   OtlpExporterConfig config, Options options);
  OtlpHttpExporter(boost::asio::any_io_executor executor, TimeSource& time, prometheus::Registry& registry,
                   OtlpExporterConfig config);
  ~OtlpHttpExporter();
  OtlpHttpExporter(const OtlpHttpExporter&) = delete;
  OtlpHttpExporter& operator=(const OtlpHttpExporter&) = delete;

  // Queues one encoded Export*ServiceRequest holding `items` spans / log records / points.
  // Returns false, counting the items as dropped, when the buffer is full ("buffer_full"), the
  // signal has no endpoint ("disabled") or the exporter is shutting down ("shutdown"). A body
  // larger than max_queue_bytes (after compression) can never be queued: "buffer_full".
  bool enqueue(OtlpSignal signal, std::string body, std::uint64_t items);

  // Stops accepting requests and tries to deliver what is queued (waiting retries go at
  // once, failures are no longer retried) until `deadline` has passed; then drops the rest
  // ("shutdown") and calls `done`. `done` runs on the executor, also when nothing was queued.
  void shutdown(Duration deadline, std::function<void()> done);

  // For status pages and tests.
  std::uint64_t queued_bytes() const;
  std::uint64_t queued_requests() const;
  bool idle() const;                                // nothing queued or in flight
  bool waiting_to_retry(OtlpSignal signal) const;   // a backoff / Retry-After timer is armed

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace porthole::telemetry

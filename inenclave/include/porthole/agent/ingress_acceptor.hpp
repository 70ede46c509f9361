// Ingress inside the enclave: accepts the sidecar's streams on the ingress vsock port, reads
// and validates each PROXY v2 header (with a deadline), maps its listener name to the
// workload's address, connects there (optionally passing the PROXY v2 header on), and relays.
// The parent is untrusted: a stream with a malformed header, an unknown listener or no header
// in time is closed and counted. Routes with `protocol: http1` are relayed through an
// HttpObserver (server spans, RED metrics, traceparent injection).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/config.hpp"
#include "porthole/agent/http_metrics.hpp"
#include "porthole/agent/http_observer.hpp"
#include "porthole/telemetry/item_sink.hpp"
#include "porthole/telemetry/tracer.hpp"
#include "porthole/common/time.hpp"
#include "porthole/relay/pipe_pool.hpp"
#include "porthole/relay/route_metrics.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::agent {

class IngressAcceptor {
 public:
  // `spans` receives the HTTP server spans of http1 routes; null records none (traceparent is
  // still injected and the RED metrics kept).
  IngressAcceptor(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
                  prometheus::Registry& registry, telemetry::SpanProcessor* spans = nullptr);
  ~IngressAcceptor();
  void start();  // throws when the ingress endpoint cannot be bound
  void stop();

 private:
  void on_accepted(relay::Stream stream);
  struct HttpRoute {
    RouteTemplates templates;
    std::unique_ptr<telemetry::Tracer> tracer;
    HttpMetrics::Route* metrics;
  };
  class DiscardSpans final : public telemetry::SpanProcessor {
   public:
    bool submit(telemetry::SpanItem&&) override { return true; }
  };

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const AgentConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  relay::RouteMetrics metrics_;
  relay::PipePool pipes_;
  relay::RouteMetrics::Route& unrouted_;  // streams that never reached a route
  HttpMetrics http_metrics_;
  DiscardSpans discard_spans_;
  std::map<std::string, HttpRoute> http_routes_;  // by listener
  std::optional<relay::Acceptor> acceptor_;
  std::optional<relay::AcceptLoop> accept_loop_;
  std::shared_ptr<std::int64_t> active_ = std::make_shared<std::int64_t>(0);
  bool stopped_ = false;
};

}  // namespace porthole::agent

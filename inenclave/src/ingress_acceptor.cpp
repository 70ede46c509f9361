#include "porthole/agent/ingress_acceptor.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/relay/header_reader.hpp"
#include "porthole/relay/proxy_v2.hpp"
#include "porthole/relay/stream_relay.hpp"

namespace porthole::agent {

namespace {



}  // namespace

IngressAcceptor::IngressAcceptor(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
                                 prometheus::Registry& registry, telemetry::SpanProcessor* spans)
    : executor_(std::move(executor)),
      time_(time),
      config_(config),
      log_(logger("ingress")),
      metrics_(registry, "enclave", "ingress"),
      pipes_(registry, "enclave", "ingress", {static_cast<std::size_t>(config.ingress.splice_pipes), 64, config.ingress.buffer_bytes, &time}),
      unrouted_(metrics_.route("unrouted")),
      http_metrics_(registry) {
  for (const auto& r : config_.ingress.routes) {
    metrics_.route(r.listener);
    if (r.protocol != "http1") continue;
    auto origin = std::make_shared<telemetry::ItemOrigin>();
    origin->resource.attributes.push_back(
        {"service.name", telemetry::AnyValue(r.service_name.empty() ? r.listener : r.service_name)});
    origin->scope.name = "porthole.ingress";
    origin->scope.version = PORTHOLE_VERSION;
    http_routes_[r.listener] = HttpRoute{
        RouteTemplates(r.http_routes),
        std::make_unique<telemetry::Tracer>(std::move(origin), spans ? *spans : discard_spans_, time_),
        &http_metrics_.route(r.listener)};
  }
}

IngressAcceptor::~IngressAcceptor() { stop(); }

void IngressAcceptor::start() {
  relay::Endpoint listen_on = config_.boundary.ingress_endpoint();
  if (listen_on.kind == relay::TransportKind::Vsock) listen_on.cid = relay::kAnyCid;
  acceptor_.emplace(relay::listen(executor_, listen_on, relay::kConnectionBacklog));
  log_->info("ingress: accepting the sidecar's streams on {}", listen_on.to_string());
  accept_loop_.emplace(*acceptor_, time_, log_, "ingress", [this](relay::Stream s) { on_accepted(std::move(s)); });
  accept_loop_->start();
}

void IngressAcceptor::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  if (accept_loop_) accept_loop_->stop();
}

void IngressAcceptor::on_accepted(relay::Stream stream) {
  if (*active_ >= config_.ingress.max_connections) {
    unrouted_.error(relay::RelayError::Limit);
    relay::reset_on_close(stream);
    return;
  }
  relay::apply_stream_options(stream, config_.boundary.transport.kind, config_.boundary.stream);
  struct Conn {
    relay::Stream from_parent;
    relay::Stream workload;
    relay::ProxyHeader header;
    std::unique_ptr<Timer> timer;
    std::shared_ptr<relay::TrackedConnection> tracked;
  };
  auto c = std::make_shared<Conn>(Conn{std::move(stream), relay::Stream(executor_), {}, nullptr, nullptr});
  ++*active_;
  auto active = active_;
  // `active` counts a stream from accept to the end of its relay; the guard runs once.
  auto release = std::shared_ptr<void>(nullptr, [active](void*) { --*active; });
  relay::read_header(
      c->from_parent, time_, config_.ingress.header_timeout, relay::kProxyV2MaxHeader,
      [c](std::string_view bytes, std::string& error) -> long {
        auto r = relay::decode_proxy_v2({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        if (r.status == relay::ProxyParse::NeedMore) return 0;
        if (r.status == relay::ProxyParse::Invalid) {
          error = r.error;
          return -1;
        }
        c->header = std::move(r.header);
        return static_cast<long>(r.consumed);
      },
      [this, c, release](relay::HeaderResult h) {
        if (h.status != relay::HeaderStatus::Ok) {
          unrouted_.error(h.status == relay::HeaderStatus::Timeout ? relay::RelayError::Timeout
                                                                   : relay::RelayError::Protocol);
          log_->warn("ingress: dropped a stream from the parent: {} ({})",
                     h.status == relay::HeaderStatus::Timeout   ? "no PROXY v2 header in time"
                     : h.status == relay::HeaderStatus::Invalid ? "malformed PROXY v2 header"
                     : h.status == relay::HeaderStatus::TooLong ? "PROXY v2 header too long"
                                                                : "closed before its header",
                     h.error);
          relay::reset_on_close(c->from_parent);
          return;
        }
        const IngressRouteConfig* route = nullptr;
        for (const auto& r : config_.ingress.routes) {
          if (r.listener == c->header.listener) route = &r;
        }
        if (!route) {
          unrouted_.error(relay::RelayError::Protocol);
          log_->warn("ingress: no route for listener '{}'; add it to ingress.routes", c->header.listener);
          relay::reset_on_close(c->from_parent);
          return;
        }
        auto& metrics = metrics_.route(route->listener);
        c->tracked = std::make_shared<relay::TrackedConnection>(metrics, time_);
        std::string payload = h.bytes.substr(h.consumed);
        c->tracked->count_bytes(true, payload.size());
        std::shared_ptr<HttpObserver> observer;
        if (auto it = http_routes_.find(route->listener); it != http_routes_.end()) {
          auto& h = it->second;
          observer = std::make_shared<HttpObserver>(*h.tracer, h.templates, *h.metrics, time_);
          std::string observed;
          if (!payload.empty()) observer->on_bytes(true, payload, observed);
          payload = std::move(observed);
        }
        std::string to_workload = route->proxy_protocol ? relay::encode_proxy_v2(c->header) : std::string();
        to_workload += payload;
        c->timer = time_.make_timer();
        c->timer->arm(config_.ingress.connect_timeout, [c] {
          boost::system::error_code ignored;
          c->workload.close(ignored);
        });
        relay::async_connect(c->workload, relay::tcp_endpoint(route->target),
                             [this, c, release, &metrics, observer, to_workload = std::move(to_workload)](
                                 const boost::system::error_code& ec) mutable {
                               c->timer->cancel();
                               if (ec) {
                                 metrics.error(ec == boost::asio::error::operation_aborted ? relay::RelayError::Timeout
                                                                                           : relay::RelayError::Refused);
                                 log_->warn("ingress: the workload at {} is unreachable: {}", c->header.listener,
                                            ec.message());
                                 relay::reset_on_close(c->from_parent);
                                 if (observer) observer->on_end(relay::RelayResult{relay::RelayEnd::Aborted});
                                 return;
                               }
                               relay::apply_stream_options(c->workload, relay::TransportKind::Tcp, {});
                               c->tracked->set_up_done();
                               auto tracked = c->tracked;
                               relay::StreamRelay::create(
                                   std::move(c->from_parent), std::move(c->workload), time_,
                                   {config_.ingress.buffer_bytes, config_.ingress.idle_timeout, &pipes_, observer},
                                   tracked->progress(),
                                   [tracked, release](const relay::RelayResult& r) { tracked->count_end(r); })
                                   ->start(std::move(to_workload));
                             });
      });
}

}  // namespace porthole::agent

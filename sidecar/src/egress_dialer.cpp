#include "porthole/sidecar/egress_dialer.hpp"

#include <sys/socket.h>

#include <boost/asio/write.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/relay/egress_request.hpp"
#include "porthole/relay/header_reader.hpp"
#include "porthole/relay/stream_relay.hpp"

namespace porthole::sidecar {

using boost::asio::ip::tcp;

namespace {


std::string clip(std::string s) {
  if (s.size() > relay::kEgressMaxReason) s.resize(relay::kEgressMaxReason);
  return s;
}

}  // namespace

struct EgressDialer::Conn {
  relay::Stream agent;
  relay::Stream target;
  relay::EgressRequest request;
  std::string payload;  // bytes the agent sent after its request
  std::string route = "denied";
  std::unique_ptr<Timer> timer;
  std::shared_ptr<relay::TrackedConnection> tracked;
  std::shared_ptr<void> release;
};

EgressDialer::EgressDialer(boost::asio::any_io_executor executor, TimeSource& time, const SidecarConfig& config,
                           prometheus::Registry& registry)
    : executor_(executor),
      time_(time),
      config_(config),
      log_(logger("egress")),
      allowlist_(relay::parse_allow_rules(config.egress.allow), relay::parse_allow_rules(config.egress.deny)),
      metrics_(registry, "parent", "egress"),
      pipes_(registry, "parent", "egress", {static_cast<std::size_t>(config.egress.splice_pipes), 64, config.egress.buffer_bytes, &time}),
      resolver_(executor) {
  metrics_.route("denied");
  for (const auto& rule : config.egress.allow) metrics_.route(rule);
}

EgressDialer::~EgressDialer() { stop(); }

void EgressDialer::start() {
  auto listen_on = config_.boundary.egress_endpoint();
  if (listen_on.kind == relay::TransportKind::Vsock) listen_on.cid = relay::kAnyCid;
  acceptor_.emplace(relay::listen(executor_, listen_on, relay::kConnectionBacklog));
  log_->info("egress: accepting the agent's outbound streams on {} ({} allow rules)", listen_on.to_string(),
             config_.egress.allow.size());
  accept_loop_.emplace(*acceptor_, time_, log_, "egress", [this](relay::Stream s) { on_accepted(std::move(s)); });
  accept_loop_->start();
}

void EgressDialer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  if (accept_loop_) accept_loop_->stop();
  resolver_.cancel();
}

void EgressDialer::refuse(const std::shared_ptr<Conn>& c, relay::EgressStatus status, const std::string& reason,
                          relay::RelayError error) {
  metrics_.route(c->route).error(error);
  log_->warn("egress: {}:{} (connection {}) refused ({}): {}", c->request.host, c->request.port,
             c->request.connection_id.empty() ? "-" : c->request.connection_id, relay::to_string(status), reason);
  const auto reply = std::make_shared<std::string>(relay::encode_egress_reply({status, clip(reason)}));
  boost::asio::async_write(c->agent, boost::asio::buffer(*reply), [c, reply](const boost::system::error_code&, std::size_t) {
    boost::system::error_code ignored;
    c->agent.shutdown(relay::Stream::shutdown_both, ignored);
  });
}

void EgressDialer::on_accepted(relay::Stream stream) {
  auto c = std::make_shared<Conn>(Conn{std::move(stream), relay::Stream(executor_), {}, {}, "denied", nullptr, nullptr,
                                       nullptr});
  relay::apply_stream_options(c->agent, config_.boundary.transport.kind, config_.boundary.stream);
  if (!config_.egress.enabled) return refuse(c, relay::EgressStatus::Unavailable, "egress is disabled on this parent",
                                             relay::RelayError::Denied);
  if (*active_ >= config_.egress.max_connections) {
    return refuse(c, relay::EgressStatus::Limit,
                  "the parent has " + std::to_string(*active_) + " egress connections open (egress.max_connections)",
                  relay::RelayError::Limit);
  }
  ++*active_;
  auto active = active_;
  c->release = std::shared_ptr<void>(nullptr, [active](void*) { --*active; });
  relay::read_header(
      c->agent, time_, config_.egress.request_timeout, relay::kEgressMaxMessage,
      [c](std::string_view bytes, std::string& error) -> long {
        auto r = relay::decode_egress_request({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        if (r.status == relay::ProxyParse::NeedMore) return 0;
        if (r.status == relay::ProxyParse::Invalid) {
          error = r.error;
          return -1;
        }
        c->request = std::move(r.request);
        return static_cast<long>(r.consumed);
      },
      [this, c](relay::HeaderResult h) {
        // refuse() counts, logs and answers the agent: once per stream.
        if (h.status == relay::HeaderStatus::Invalid) {
          return refuse(c, relay::EgressStatus::Protocol, "malformed destination request: " + h.error,
                        relay::RelayError::Protocol);
        }
        if (h.status == relay::HeaderStatus::TooLong) {
          return refuse(c, relay::EgressStatus::Protocol,
                        "destination request longer than " + std::to_string(relay::kEgressMaxMessage) + " bytes",
                        relay::RelayError::Protocol);
        }
        if (h.status != relay::HeaderStatus::Ok) {
          const bool timeout = h.status == relay::HeaderStatus::Timeout;
          metrics_.route("denied").error(timeout ? relay::RelayError::Timeout : relay::RelayError::Protocol);
          log_->warn("egress: dropped a stream from the agent: {}",
                     timeout ? "no destination request in time" : "the stream ended before its destination request");
          return;
        }
        c->payload = h.bytes.substr(h.consumed);
        on_request(c);
      });
}

void EgressDialer::on_request(const std::shared_ptr<Conn>& c) {
  const auto& host = c->request.host;
  const auto port = c->request.port;
  const auto by_name = allowlist_.check_name(host, port);
  if (!by_name.allowed) return refuse(c, relay::EgressStatus::Denied, by_name.reason, relay::RelayError::Denied);
  c->route = by_name.rule;
  resolver_.async_resolve(host, std::to_string(port), [this, c](const boost::system::error_code& ec,
                                                               tcp::resolver::results_type results) {
    if (stopped_) return;
    if (ec || results.empty()) {
      return refuse(c, relay::EgressStatus::DnsFailed,
                    "cannot resolve " + c->request.host + ": " + (ec ? ec.message() : "no addresses"),
                    relay::RelayError::DnsFailed);
    }
    // Every address is checked: a name on the allow list must not smuggle us into a denied
    // network (the metadata service, the host's loopback).
    std::vector<tcp::endpoint> allowed;
    std::string last_reason;
    for (const auto& r : results) {
      auto v = allowlist_.check_address(r.endpoint().address(), c->request.port, c->request.host);
      if (v.allowed) {
        allowed.push_back(r.endpoint());
        c->route = v.rule;
      } else {
        last_reason = v.reason;
      }
    }
    if (allowed.empty()) return refuse(c, relay::EgressStatus::Denied, last_reason, relay::RelayError::Denied);
    connect(c, std::move(allowed), 0);
  });
}

void EgressDialer::connect(const std::shared_ptr<Conn>& c, std::vector<tcp::endpoint> targets, std::size_t i) {
  relay::Endpoint ep;
  ep.kind = relay::TransportKind::Tcp;
  ep.host = targets[i].address().to_string();
  ep.port = targets[i].port();
  c->timer = time_.make_timer();
  c->timer->arm(config_.egress.connect_timeout, [c] {
    boost::system::error_code ignored;
    c->target.close(ignored);
  });
  relay::async_connect(c->target, ep, [this, c, targets = std::move(targets), i](const boost::system::error_code& ec) mutable {
    c->timer->cancel();
    if (stopped_) return;
    if (ec) {
      if (i + 1 < targets.size()) return connect(c, std::move(targets), i + 1);
      const bool timeout = ec == boost::asio::error::operation_aborted;
      const bool refused = ec == boost::asio::error::connection_refused;
      return refuse(c,
                    timeout ? relay::EgressStatus::Timeout
                    : refused ? relay::EgressStatus::Refused
                              : relay::EgressStatus::Unreachable,
                    c->request.host + ":" + std::to_string(c->request.port) +
                        (timeout ? ": connect timed out" : ": " + ec.message()),
                    timeout ? relay::RelayError::Timeout
                    : refused ? relay::RelayError::Refused
                              : relay::RelayError::Unreachable);
    }
    relay::apply_stream_options(c->target, relay::TransportKind::Tcp, {});
    auto& route = metrics_.route(c->route);
    auto tracked = std::make_shared<relay::TrackedConnection>(route, time_);
    tracked->set_up_done();
    tracked->count_bytes(true, c->payload.size());
    log_->debug("egress: {}:{} connected ({})", c->request.host, c->request.port, c->route);
    auto ok = relay::encode_egress_reply({relay::EgressStatus::Ok, ""});
    auto release = c->release;
    relay::StreamRelay::create(std::move(c->agent), std::move(c->target), time_,
                               {config_.egress.buffer_bytes, config_.egress.idle_timeout, &pipes_, nullptr},
                               tracked->progress(),
                               [tracked, release](const relay::RelayResult& r) { tracked->count_end(r); })
        ->start(std::move(c->payload), std::move(ok));
  });
}

}  // namespace porthole::sidecar

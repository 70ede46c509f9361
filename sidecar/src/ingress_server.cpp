#include "porthole/sidecar/ingress_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/proxy_v2.hpp"
#include "porthole/relay/stream_relay.hpp"

namespace porthole::sidecar {

using boost::asio::ip::tcp;

struct IngressServer::Listener {
  const IngressListenerConfig& config;
  relay::RouteMetrics::Route& route;
  std::optional<relay::Acceptor> acceptor;
  std::optional<relay::AcceptLoop> loop;
  std::shared_ptr<std::int64_t> active = std::make_shared<std::int64_t>(0);
  std::string bound;
};

namespace {

std::optional<tcp::endpoint> tcp_endpoint_of(const relay::Stream::endpoint_type& ep) {
  if (ep.protocol().family() != AF_INET && ep.protocol().family() != AF_INET6) return std::nullopt;
  tcp::endpoint out;
  std::memcpy(out.data(), ep.data(), std::min<std::size_t>(ep.size(), sizeof(sockaddr_in6)));
  return out;
}


}  // namespace

IngressServer::IngressServer(boost::asio::any_io_executor executor, TimeSource& time, const SidecarConfig& config,
                             prometheus::Registry& registry)
    : executor_(std::move(executor)), time_(time), config_(config), log_(logger("ingress")),
      metrics_(registry, "parent", "ingress"),
      pipes_(registry, "parent", "ingress", {static_cast<std::size_t>(config.ingress.splice_pipes), 64, config.ingress.buffer_bytes, &time}) {
  for (const auto& l : config_.ingress.listeners) {
    listeners_.push_back(std::make_unique<Listener>(Listener{l, metrics_.route(l.name), {}, {}, std::make_shared<std::int64_t>(0), {}}));
  }
}

IngressServer::~IngressServer() { stop(); }

void IngressServer::start() {
  for (auto& l : listeners_) {
    l->acceptor.emplace(relay::listen(executor_, relay::tcp_endpoint(l->config.listen), relay::kConnectionBacklog));
    const auto local = tcp_endpoint_of(l->acceptor->local_endpoint());
    l->bound = local ? local->address().to_string() + ":" + std::to_string(local->port()) : l->config.listen;
    log_->info("ingress: listener '{}' on {} -> enclave {}", l->config.name, l->bound,
               config_.boundary.ingress_endpoint().to_string());
    Listener& ref = *l;
    l->loop.emplace(*l->acceptor, time_, log_, "ingress", [this, &ref](relay::Stream s) { on_accepted(ref, std::move(s)); });
    l->loop->start();
  }
}

void IngressServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : listeners_) {
    if (l->loop) l->loop->stop();
  }
}

std::size_t IngressServer::active() const {
  std::size_t n = 0;
  for (const auto& l : listeners_) n += static_cast<std::size_t>(*l->active);
  return n;
}

std::map<std::string, std::string> IngressServer::bound() const {
  std::map<std::string, std::string> out;
  for (const auto& l : listeners_) out[l->config.name] = l->bound;
  return out;
}

void IngressServer::on_accepted(Listener& l, relay::Stream client) {
  if (*l.active >= l.config.max_connections) {
    l.route.error(relay::RelayError::Limit);
    log_->debug("ingress: '{}' at its limit of {} connections; refusing one", l.config.name, l.config.max_connections);
    return;  // closed at once: the client sees the connection end, nothing is queued
  }
  relay::apply_stream_options(client, relay::TransportKind::Tcp, config_.boundary.stream);
  relay::ProxyHeader header;
  header.source = tcp_endpoint_of(client.remote_endpoint());
  header.destination = tcp_endpoint_of(client.local_endpoint());
  header.listener = l.config.name;
  header.connection_id = config_.name + "-" + std::to_string(next_id_++);

  struct Pending {
    relay::Stream client;
    relay::Stream enclave;
    std::unique_ptr<Timer> timer;
    std::shared_ptr<relay::TrackedConnection> tracked;
  };
  auto p = std::make_shared<Pending>(Pending{std::move(client), relay::Stream(executor_), time_.make_timer(), nullptr});
  p->tracked = std::make_shared<relay::TrackedConnection>(l.route, time_);
  ++*l.active;
  auto active = l.active;
  p->timer->arm(config_.ingress.connect_timeout, [p] {
    boost::system::error_code ignored;
    p->enclave.close(ignored);  // completes the connect with operation_aborted
  });
  auto& route = l.route;
  relay::async_connect(p->enclave, config_.boundary.ingress_endpoint(),
                       [this, p, active, &route, header = relay::encode_proxy_v2(header)](
                           const boost::system::error_code& ec) mutable {
                         p->timer->cancel();
                         if (ec) {
                           route.error(ec == boost::asio::error::operation_aborted ? relay::RelayError::Timeout
                                                                                   : relay::RelayError::Refused);
                           log_->debug("ingress: cannot reach the agent: {}", ec.message());
                           --*active;
                           // Reset, not FIN: the client must not take this for an empty answer.
                           relay::reset_on_close(p->client);
                           return;
                         }
                         relay::apply_stream_options(p->enclave, config_.boundary.transport.kind,
                                                     config_.boundary.stream);
                         p->tracked->set_up_done();
                         auto tracked = p->tracked;
                         auto relay = relay::StreamRelay::create(
                             std::move(p->client), std::move(p->enclave), time_,
                             {config_.ingress.buffer_bytes, config_.ingress.idle_timeout, &pipes_, nullptr},
                               tracked->progress(),
                             [tracked, active](const relay::RelayResult& r) {
                               tracked->count_end(r);
                               --*active;
                             });
                         relay->start(std::move(header));
                       });
}

}  // namespace porthole::sidecar

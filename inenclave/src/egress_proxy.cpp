#include "porthole/agent/egress_proxy.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/header_reader.hpp"
#include "porthole/relay/stream_relay.hpp"

namespace porthole::agent {

namespace {

constexpr std::size_t kMaxConnectHead = 8 * 1024;




std::string http_status(relay::EgressStatus s) {
  switch (s) {
    case relay::EgressStatus::Ok: return "200 Connection established";
    case relay::EgressStatus::Denied: return "403 Forbidden";
    case relay::EgressStatus::Timeout: return "504 Gateway Timeout";
    case relay::EgressStatus::Limit:
    case relay::EgressStatus::Unavailable: return "503 Service Unavailable";
    case relay::EgressStatus::Protocol: return "400 Bad Request";
    default: return "502 Bad Gateway";
  }
}

relay::RelayError error_of(relay::EgressStatus s) {
  switch (s) {
    case relay::EgressStatus::Denied: return relay::RelayError::Denied;
    case relay::EgressStatus::DnsFailed: return relay::RelayError::DnsFailed;
    case relay::EgressStatus::Refused: return relay::RelayError::Refused;
    case relay::EgressStatus::Timeout: return relay::RelayError::Timeout;
    case relay::EgressStatus::Limit:
    case relay::EgressStatus::Unavailable: return relay::RelayError::Limit;
    case relay::EgressStatus::Protocol: return relay::RelayError::Protocol;
    default: return relay::RelayError::Unreachable;
  }
}

}  // namespace

long parse_connect_head(std::string_view bytes, std::string& host, std::uint16_t& port, std::string& error) {
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  const auto line = bytes.substr(0, bytes.find("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    error = "malformed request line";
    return -1;
  }
  if (line.substr(0, sp1) != "CONNECT") {
    error = "only CONNECT is served";
    return -1;
  }
  if (!line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    error = "not HTTP/1.x";
    return -1;
  }
  const std::string authority(line.substr(sp1 + 1, sp2 - sp1 - 1));
  try {
    relay::split_host_port(authority, host, port);
  } catch (const ConfigError&) {
    error = "the CONNECT target must be host:port";
    return -1;
  }
  if (host.empty() || port == 0) {
    error = "the CONNECT target must be host:port";
    return -1;
  }
  return static_cast<long>(end + 4);
}

struct EgressProxy::Listener {
  std::string route;                       // "proxy" or "forward:<listen>"
  std::string listen;
  std::optional<std::string> destination;  // forwards only
  relay::RouteMetrics::Route& metrics;
  std::optional<relay::Acceptor> acceptor;
  std::optional<relay::AcceptLoop> loop;
};

struct EgressProxy::Conn {
  Listener& listener;
  relay::Stream client;
  relay::Stream parent;
  relay::EgressRequest request;
  std::string from_client;  // bytes after the CONNECT head
  std::unique_ptr<Timer> timer;
  std::shared_ptr<relay::TrackedConnection> tracked;
  std::shared_ptr<void> release;
};

EgressProxy::EgressProxy(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
                         prometheus::Registry& registry)
    : executor_(std::move(executor)),
      time_(time),
      config_(config),
      log_(logger("egress")),
      allowlist_(relay::parse_allow_rules(config.egress.allow), relay::parse_allow_rules(config.egress.deny)),
      metrics_(registry, "enclave", "egress"),
      pipes_(registry, "enclave", "egress", {static_cast<std::size_t>(config.egress.splice_pipes), 64, config.egress.buffer_bytes, &time}) {
  if (!config_.egress.proxy_listen.empty()) {
    listeners_.push_back(std::make_unique<Listener>(
        Listener{"proxy", config_.egress.proxy_listen, std::nullopt, metrics_.route("proxy"), {}, {}}));
  }
  for (const auto& f : config_.egress.forwards) {
    const auto route = "forward:" + f.listen;
    listeners_.push_back(std::make_unique<Listener>(Listener{route, f.listen, f.destination, metrics_.route(route), {}, {}}));
  }
}

EgressProxy::~EgressProxy() { stop(); }

void EgressProxy::start() {
  for (auto& l : listeners_) {
    l->acceptor.emplace(relay::listen(executor_, relay::tcp_endpoint(l->listen), relay::kConnectionBacklog));
    log_->info("egress: {} on {}{}", l->destination ? "forward" : "CONNECT proxy", l->listen,
               l->destination ? " -> " + *l->destination : std::string());
    Listener& ref = *l;
    l->loop.emplace(*l->acceptor, time_, log_, "egress", [this, &ref](relay::Stream s) { on_accepted(ref, std::move(s)); });
    l->loop->start();
  }
}

void EgressProxy::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : listeners_) {
    if (l->loop) l->loop->stop();
  }
}

void EgressProxy::answer(const std::shared_ptr<Conn>& c, relay::EgressStatus status, const std::string& reason) {
  c->listener.metrics.error(error_of(status));
  log_->warn("egress: {}:{} failed ({}): {}", c->request.host, c->request.port, relay::to_string(status), reason);
  if (c->listener.destination) {
    relay::reset_on_close(c->client);  // a forward has no way to say why: the client sees a reset
    return;
  }
  const auto body = reason + "\n";
  auto response = std::make_shared<std::string>("HTTP/1.1 " + http_status(status) +
                                                "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                                                std::to_string(body.size()) + "\r\n\r\n" + body);
  boost::asio::async_write(c->client, boost::asio::buffer(*response),
                           [c, response](const boost::system::error_code&, std::size_t) {
                             boost::system::error_code ignored;
                             c->client.shutdown(relay::Stream::shutdown_send, ignored);
                           });
}

void EgressProxy::on_accepted(Listener& l, relay::Stream client) {
  auto c = std::make_shared<Conn>(Conn{l, std::move(client), relay::Stream(executor_), {}, {}, nullptr, nullptr, nullptr});
  if (*active_ >= config_.egress.max_connections) {
    return answer(c, relay::EgressStatus::Limit, "the enclave has too many egress connections (egress.max_connections)");
  }
  ++*active_;
  auto active = active_;
  c->release = std::shared_ptr<void>(nullptr, [active](void*) { --*active; });
  c->request.connection_id = "e" + std::to_string(next_id_++);
  if (l.destination) {
    std::string host;
    std::uint16_t port = 0;
    relay::split_host_port(*l.destination, host, port);
    c->request.host = host;
    c->request.port = port;
    return open_stream(c);  // a forward is an explicit allow, part of the enclave's own config
  }
  relay::read_header(
      c->client, time_, config_.egress.request_timeout, kMaxConnectHead,
      [c](std::string_view bytes, std::string& error) -> long {
        return parse_connect_head(bytes, c->request.host, c->request.port, error);
      },
      [this, c](relay::HeaderResult h) {
        if (h.status != relay::HeaderStatus::Ok) {
          if (h.status == relay::HeaderStatus::Closed) return;
          return answer(c, relay::EgressStatus::Protocol,
                        h.status == relay::HeaderStatus::Timeout   ? "no complete CONNECT request in time"
                        : h.status == relay::HeaderStatus::TooLong ? "request head too long"
                                                                   : h.error);
        }
        c->from_client = h.bytes.substr(h.consumed);
        boost::system::error_code ec;
        const auto address = boost::asio::ip::make_address(c->request.host, ec);
        const auto verdict = ec ? allowlist_.check_name(c->request.host, c->request.port)
                                : allowlist_.check_address(address, c->request.port);
        if (!verdict.allowed) {
          return answer(c, relay::EgressStatus::Denied, "denied by the enclave's egress policy: " + verdict.reason);
        }
        if (!relay::egress_request_error(c->request).empty()) {
          return answer(c, relay::EgressStatus::Protocol, "unusable CONNECT target " + c->request.host);
        }
        open_stream(c);
      });
}

void EgressProxy::open_stream(const std::shared_ptr<Conn>& c) {
  c->timer = time_.make_timer();
  c->timer->arm(config_.egress.request_timeout, [c] {
    boost::system::error_code ignored;
    c->parent.close(ignored);
  });
  relay::async_connect(c->parent, config_.boundary.egress_endpoint(), [this, c](const boost::system::error_code& ec) {
    if (ec) {
      c->timer->cancel();
      return answer(c, relay::EgressStatus::Unavailable, "the parent's egress port is unreachable: " + ec.message());
    }
    relay::apply_stream_options(c->parent, config_.boundary.transport.kind, config_.boundary.stream);
    auto request = std::make_shared<std::string>(relay::encode_egress_request(c->request));
    boost::asio::async_write(c->parent, boost::asio::buffer(*request), [this, c, request](const boost::system::error_code& wec,
                                                                                        std::size_t) {
      if (wec) {
        c->timer->cancel();
        return answer(c, relay::EgressStatus::Unavailable, "the parent closed the egress stream");
      }
      auto reply = std::make_shared<relay::EgressReply>();
      relay::read_header(
          c->parent, time_, config_.egress.request_timeout, relay::kEgressMaxMessage,
          [reply](std::string_view bytes, std::string& error) -> long {
            auto r = relay::decode_egress_reply({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
            if (r.status == relay::ProxyParse::NeedMore) return 0;
            if (r.status == relay::ProxyParse::Invalid) {
              error = r.error;
              return -1;
            }
            *reply = std::move(r.reply);
            return static_cast<long>(r.consumed);
          },
          [this, c, reply](relay::HeaderResult h) {
            c->timer->cancel();
            if (h.status != relay::HeaderStatus::Ok) {
              return answer(c, h.status == relay::HeaderStatus::Timeout ? relay::EgressStatus::Timeout
                                                                        : relay::EgressStatus::Unavailable,
                            "no answer from the parent's egress (" + h.error + ")");
            }
            if (reply->status != relay::EgressStatus::Ok) return answer(c, reply->status, "parent: " + reply->reason);
            c->tracked = std::make_shared<relay::TrackedConnection>(c->listener.metrics, time_);
            c->tracked->set_up_done();
            c->tracked->count_bytes(true, c->from_client.size());
            c->tracked->count_bytes(false, h.bytes.size() - h.consumed);
            std::string to_client = c->listener.destination ? "" : "HTTP/1.1 200 Connection established\r\n\r\n";
            to_client += h.bytes.substr(h.consumed);
            auto tracked = c->tracked;
            auto release = c->release;
            relay::StreamRelay::create(std::move(c->client), std::move(c->parent), time_,
                                       {config_.egress.buffer_bytes, config_.egress.idle_timeout, &pipes_, nullptr},
                               tracked->progress(),
                                       [tracked, release](const relay::RelayResult& r) { tracked->count_end(r); })
                ->start(std::move(c->from_client), std::move(to_client));
          });
    });
  });
}

}  // namespace porthole::agent

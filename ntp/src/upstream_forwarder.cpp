#include "porthole/ntp/upstream_forwarder.hpp"

#include <array>
#include <limits>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/ntp/channel.hpp"

namespace porthole::ntp {

using boost::asio::ip::udp;

namespace {
// The agent reconnects after restarts; a few sessions may overlap briefly, no more.
constexpr std::size_t kMaxAgents = 4;
}  // namespace

struct UpstreamForwarder::Upstream {
  Upstream(boost::asio::any_io_executor ex, std::string n, prometheus::Registry& r)
      : name(std::move(n)),
        socket(ex),
        up(prometheus::BuildGauge()
               .Name("porthole_ntp_upstream_up")
               .Help("1 while the upstream NTP server answers; 0 after failover_after consecutive timeouts.")
               .Labels({{"side", "parent"}})
               .Register(r)
               .Add({{"server", name}})),
        rtt(prometheus::BuildGauge()
                .Name("porthole_ntp_upstream_rtt_seconds")
                .Help("Round-trip time of the last request answered by the upstream NTP server (NaN until one is).")
                .Labels({{"side", "parent"}})
                .Register(r)
                .Add({{"server", name}})),
        selected(prometheus::BuildGauge()
                     .Name("porthole_ntp_upstream_selected")
                     .Help("1 for the upstream NTP server requests are sent to.")
                     .Labels({{"side", "parent"}})
                     .Register(r)
                     .Add({{"server", name}})) {
    auto& requests = prometheus::BuildCounter()
                         .Name("porthole_ntp_upstream_requests_total")
                         .Help("Requests forwarded to each upstream NTP server, by result.")
                         .Labels({{"side", "parent"}})
                         .Register(r);
    ok = &requests.Add({{"server", name}, {"result", "ok"}});
    timeout = &requests.Add({{"server", name}, {"result", "timeout"}});
    invalid = &requests.Add({{"server", name}, {"result", "invalid"}});
    rtt.Set(std::numeric_limits<double>::quiet_NaN());
    up.Set(1);  // innocent until proven silent
  }
  std::string name;
  udp::socket socket;
  std::array<std::uint8_t, kMaxPacketBytes + 1> buffer{};
  prometheus::Gauge& up;
  prometheus::Gauge& rtt;
  prometheus::Gauge& selected;
  prometheus::Counter* ok = nullptr;
  prometheus::Counter* timeout = nullptr;
  prometheus::Counter* invalid = nullptr;
  std::int64_t consecutive_timeouts = 0;
};

struct UpstreamForwarder::Agent {
  std::shared_ptr<relay::FrameConnection> connection;
  TokenBucket bucket;
  bool greeted = false;
};

UpstreamForwarder::UpstreamForwarder(boost::asio::any_io_executor executor, TimeSource& time,
                                     const SidecarNtpConfig& config, relay::Endpoint listen_on,
                                     relay::StreamOptions stream_options, prometheus::Registry& registry)
    : executor_(std::move(executor)),
      time_(time),
      config_(config),
      listen_on_(std::move(listen_on)),
      stream_options_(stream_options),
      registry_(registry),
      log_(logger("ntp")),
      metrics_(registry, "parent") {}

UpstreamForwarder::~UpstreamForwarder() { stop(); }

void UpstreamForwarder::start() {
  udp::resolver resolver(executor_);
  for (const auto& text : config_.upstreams) {
    std::string host;
    std::uint16_t port = 0;
    relay::split_host_port(text, host, port);
    boost::system::error_code ec;
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) throw std::runtime_error("ntp.upstreams: cannot resolve '" + text + "': " + ec.message());
    auto upstream = std::make_unique<Upstream>(executor_, text, registry_);
    upstream->socket.open(results.begin()->endpoint().protocol(), ec);
    // A connected UDP socket: the kernel delivers only datagrams from this server.
    if (!ec) upstream->socket.connect(results.begin()->endpoint(), ec);
    if (!ec) upstream->socket.non_blocking(true, ec);
    if (ec) throw std::runtime_error("ntp.upstreams: cannot open a socket to '" + text + "': " + ec.message());
    upstreams_.push_back(std::move(upstream));
    receive_next(upstreams_.size() - 1);
  }
  upstreams_[selected_]->selected.Set(1);
  acceptor_.emplace(relay::listen(executor_, listen_on_));
  log_->info("ntp: relaying for the enclave on {} to {}", listen_on_.to_string(), upstreams_[selected_]->name);
  accept_loop_.emplace(*acceptor_, time_, log_, "ntp", [this](relay::Stream s) { on_accepted(std::move(s)); });
  accept_loop_->start();
}

void UpstreamForwarder::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  if (accept_loop_) accept_loop_->stop();
  for (auto& u : upstreams_) u->socket.close(ignored);
  auto agents = std::move(agents_);
  for (auto& [_, agent] : agents) agent->connection->close(relay::CloseReason::Shutdown, "the sidecar is shutting down");
  pending_.clear();
  metrics_.outstanding.Set(0);
}

void UpstreamForwarder::on_accepted(relay::Stream stream) {
  if (agents_.size() >= kMaxAgents) {
    log_->warn("ntp: {} agent connections open; refusing one more", agents_.size());
  } else {
    relay::apply_stream_options(stream, listen_on_.kind, stream_options_);
    auto connection = relay::FrameConnection::create(std::move(stream), channel_frame_limits(), 1 << 20,
                                                     metrics_.rejected, log_, "ntp");
    auto* key = connection.get();
    auto agent = std::make_unique<Agent>(Agent{connection, TokenBucket(static_cast<double>(config_.max_requests_per_second),
                                                                       2.0 * static_cast<double>(config_.max_requests_per_second),
                                                                       time_.now()),
                                               false});
    Agent& ref = *agent;
    agents_.emplace(key, std::move(agent));
    connection->start({[this, &ref](relay::Frame&& f) { on_frame(ref, std::move(f)); },
                       [this, key](relay::CloseReason, const std::string& detail) {
                         log_->info("ntp: agent connection closed: {}", detail);
                         agents_.erase(key);
                       }});
    connection->send(static_cast<std::uint8_t>(ChannelType::Hello), encode_hello());
  }
}


void UpstreamForwarder::on_frame(Agent& agent, relay::Frame&& frame) {
  const auto type = static_cast<ChannelType>(frame.type);
  if (type == ChannelType::Hello) {
    auto version = decode_hello(frame.payload);
    if (!version) return agent.connection->reject(relay::FrameError::Malformed, "bad hello");
    if (*version != kChannelVersion) {
      log_->error("ntp: the agent speaks NTP channel v{}, this sidecar v{}; run matching versions", *version,
                  kChannelVersion);
      return agent.connection->close(relay::CloseReason::VersionMismatch, "ntp channel version mismatch");
    }
    agent.greeted = true;
    return;
  }
  if (!agent.greeted) return agent.connection->reject(relay::FrameError::Malformed, "a frame before hello");
  if (type != ChannelType::Request) return agent.connection->reject(relay::FrameError::Malformed, "a reply sent to the sidecar");
  on_request(agent, frame.payload);
}

void UpstreamForwarder::on_request(Agent& agent, std::string_view payload) {
  auto datagram = decode_datagram(payload);
  if (!datagram) return agent.connection->reject(relay::FrameError::Malformed, "request shorter than its id");
  const auto packet = bytes_of(datagram->packet);
  if (auto error = check_client_request(packet)) return metrics_.dropped(Direction::Request, *error);
  if (!agent.bucket.try_take(time_.now())) return metrics_.dropped(Direction::Request, Drop::RateLimited);
  if (pending_.size() >= static_cast<std::size_t>(config_.max_outstanding)) {
    return metrics_.dropped(Direction::Request, Drop::QueueFull);
  }
  const auto key = transmit_timestamp(packet);
  if (pending_.count(key.raw())) return metrics_.dropped(Direction::Request, Drop::Unsolicited);  // a replay
  auto& upstream = *upstreams_[selected_];
  boost::system::error_code ec;
  upstream.socket.send(boost::asio::buffer(packet.data(), packet.size()), 0, ec);
  if (ec) {
    log_->debug("ntp: send to {} failed: {}", upstream.name, ec.message());
    return metrics_.dropped(Direction::Request, Drop::SendFailed);
  }
  auto& p = pending_[key.raw()];
  p.agent = agent.connection;
  p.id = datagram->id;
  p.upstream = selected_;
  p.sent = time_.now();
  p.timer = time_.make_timer();
  p.timer->arm(config_.request_timeout, [this, key] { on_timeout(key); });
  metrics_.relayed(Direction::Request);
  metrics_.outstanding.Set(static_cast<double>(pending_.size()));
}

void UpstreamForwarder::receive_next(std::size_t index) {
  auto& u = *upstreams_[index];
  u.socket.async_receive(boost::asio::buffer(u.buffer), [this, index](const boost::system::error_code& ec, std::size_t n) {
    if (stopped_ || ec == boost::asio::error::operation_aborted) return;
    // ECONNREFUSED arrives here when the server's port is closed: that is a silent upstream.
    if (!ec) on_reply(index, {upstreams_[index]->buffer.data(), n});
    receive_next(index);
  });
}

void UpstreamForwarder::on_reply(std::size_t index, std::span<const std::uint8_t> packet) {
  auto& u = *upstreams_[index];
  if (auto error = check_server_reply(packet)) {
    u.invalid->Increment();
    return metrics_.dropped(Direction::Reply, *error);
  }
  auto it = pending_.find(origin_timestamp(packet).raw());
  if (it == pending_.end() || it->second.upstream != index) {
    return metrics_.dropped(Direction::Reply, Drop::Unsolicited);
  }
  auto p = std::move(it->second);
  pending_.erase(it);
  metrics_.outstanding.Set(static_cast<double>(pending_.size()));
  u.ok->Increment();
  u.rtt.Set(std::chrono::duration<double>(time_.now() - p.sent).count());
  u.consecutive_timeouts = 0;
  u.up.Set(1);
  auto agent = p.agent.lock();
  if (!agent || agent->closed()) return metrics_.dropped(Direction::Reply, Drop::Disconnected);
  agent->send(static_cast<std::uint8_t>(ChannelType::Reply),
              encode_datagram(p.id, {reinterpret_cast<const char*>(packet.data()), packet.size()}));
  metrics_.relayed(Direction::Reply);
}

void UpstreamForwarder::on_timeout(Timestamp key) {
  auto it = pending_.find(key.raw());
  if (it == pending_.end()) return;
  const auto index = it->second.upstream;
  pending_.erase(it);
  metrics_.outstanding.Set(static_cast<double>(pending_.size()));
  metrics_.dropped(Direction::Request, Drop::Timeout);
  auto& u = *upstreams_[index];
  u.timeout->Increment();
  if (++u.consecutive_timeouts == config_.failover_after) {
    u.up.Set(0);
    log_->warn("ntp: upstream {} did not answer {} requests in a row", u.name, u.consecutive_timeouts);
    if (index == selected_) select_next_upstream();
  }
}

void UpstreamForwarder::select_next_upstream() {
  if (upstreams_.size() < 2) return;
  upstreams_[selected_]->selected.Set(0);
  selected_ = (selected_ + 1) % upstreams_.size();
  upstreams_[selected_]->selected.Set(1);
  upstreams_[selected_]->consecutive_timeouts = 0;
  log_->warn("ntp: failing over to upstream {}", upstreams_[selected_]->name);
}

}  // namespace porthole::ntp

#include "porthole/ntp/enclave_relay.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/ntp/channel.hpp"

namespace porthole::ntp {

using boost::asio::ip::udp;

namespace {

prometheus::Gauge& enclave_gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Labels({{"side", "enclave"}}).Register(r).Add({});
}

prometheus::Counter& measurement(prometheus::Registry& r, const char* result) {
  return prometheus::BuildCounter()
      .Name("porthole_ntp_measurements_total")
      .Help("The agent's own NTP measurements of the enclave clock through the relay, by result.")
      .Labels({{"side", "enclave"}})
      .Register(r)
      .Add({{"result", result}});
}

constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

}  // namespace

EnclaveRelay::EnclaveRelay(boost::asio::any_io_executor executor, TimeSource& time, const AgentNtpConfig& config,
                           relay::DialerOptions dialer, prometheus::Registry& registry,
                           std::function<double()> uniform01)
    : executor_(executor),
      time_(time),
      config_(config),
      log_(logger("ntp")),
      metrics_(registry, "enclave"),
      dialer_(executor, time, std::move(dialer), registry, "enclave", std::move(uniform01), log_),
      socket_(executor),
      bucket_(static_cast<double>(config.max_requests_per_second), 2.0 * static_cast<double>(config.max_requests_per_second),
              time.now()),
      measure_timer_(time.make_timer()),
      offset_(enclave_gauge(registry, "porthole_ntp_clock_offset_seconds",
                            "The enclave clock minus the upstream's, by the agent's own NTP measurement (NaN until measured).")),
      round_trip_(enclave_gauge(registry, "porthole_ntp_round_trip_seconds",
                                "Round trip of the agent's last NTP measurement through the relay (NaN until measured).")),
      synchronized_(enclave_gauge(registry, "porthole_ntp_synchronized",
                                  "1 if a good measurement within ntp.sync_timeout found |offset| <= ntp.max_offset.")),
      last_sync_age_(enclave_gauge(registry, "porthole_ntp_last_sync_age_seconds",
                                   "Seconds since the last good NTP measurement (+Inf before the first).")),
      measured_ok_(measurement(registry, "ok")),
      measured_timeout_(measurement(registry, "timeout")),
      measured_invalid_(measurement(registry, "invalid")) {
  offset_.Set(kNotMeasured);
  round_trip_.Set(kNotMeasured);
  last_sync_age_.Set(std::numeric_limits<double>::infinity());
}

EnclaveRelay::~EnclaveRelay() { stop(); }

void EnclaveRelay::start() {
  std::string host;
  std::uint16_t port = 0;
  relay::split_host_port(config_.listen, host, port);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error("ntp.listen: '" + config_.listen + "': the host must be a numeric IP address");
  udp::endpoint endpoint(address, port);
  socket_.open(endpoint.protocol(), ec);
  if (!ec) socket_.bind(endpoint, ec);
  if (!ec) socket_.non_blocking(true, ec);
  if (ec) throw std::runtime_error("ntp.listen: cannot bind UDP " + config_.listen + ": " + ec.message());
  log_->info("ntp: serving NTP on udp {}:{} through the sidecar", local_endpoint().address().to_string(),
             local_endpoint().port());
  receive_next();
  dialer_.dial([this](relay::Stream s) { on_connected(std::move(s)); });
  if (config_.measure_interval.count() > 0) {
    measure_timer_->arm(std::chrono::milliseconds(200), [this] { measure(); });
  }
}

void EnclaveRelay::stop() {
  if (stopped_) return;
  stopped_ = true;
  dialer_.stop();
  measure_timer_->cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (auto c = std::move(connection_)) c->close(relay::CloseReason::Shutdown, "the agent is shutting down");
  pending_.clear();
}

void EnclaveRelay::on_connected(relay::Stream stream) {
  connection_ = relay::FrameConnection::create(std::move(stream), channel_frame_limits(), 1 << 20, metrics_.rejected,
                                               log_, "ntp");
  connected_at_ = time_.now();
  std::weak_ptr<relay::FrameConnection> weak = connection_;
  connection_->start({[this](relay::Frame&& f) { on_frame(std::move(f)); },
                      [this, weak](relay::CloseReason reason, const std::string& detail) {
                        if (stopped_) return;
                        auto closing = weak.lock();
                        if (closing == connection_) connection_.reset();
                        const bool lasted = time_.now() - connected_at_ >= std::chrono::seconds(5);
                        dialer_.redial([this](relay::Stream s) { on_connected(std::move(s)); },
                                       "ntp channel closed (" + std::string(relay::to_string(reason)) + ": " + detail + ")",
                                       lasted);
                      }});
  connection_->send(static_cast<std::uint8_t>(ChannelType::Hello), encode_hello());
  log_->info("ntp: connected to the sidecar");
}

void EnclaveRelay::on_frame(relay::Frame&& frame) {
  switch (static_cast<ChannelType>(frame.type)) {
    case ChannelType::Hello: {
      auto version = decode_hello(frame.payload);
      if (!version) return connection_->reject(relay::FrameError::Malformed, "bad hello");
      if (*version != kChannelVersion) {
        log_->error("ntp: the sidecar speaks NTP channel v{}, this agent v{}; run matching versions", *version,
                    kChannelVersion);
        return connection_->close(relay::CloseReason::VersionMismatch, "ntp channel version mismatch");
      }
      return;
    }
    case ChannelType::Reply: return on_reply(frame.payload);
    case ChannelType::Request: return connection_->reject(relay::FrameError::Malformed, "a request sent to the agent");
  }
}

void EnclaveRelay::receive_next() {
  socket_.async_receive_from(boost::asio::buffer(buffer_), sender_,
                             [this](const boost::system::error_code& ec, std::size_t n) {
                               if (stopped_ || ec == boost::asio::error::operation_aborted) return;
                               if (!ec) on_datagram({buffer_.data(), n});
                               receive_next();
                             });
}

void EnclaveRelay::on_datagram(std::span<const std::uint8_t> packet) {
  if (auto error = check_client_request(packet)) return metrics_.dropped(Direction::Request, *error);
  if (!bucket_.try_take(time_.now())) return metrics_.dropped(Direction::Request, Drop::RateLimited);
  forward(packet, sender_);
}

bool EnclaveRelay::forward(std::span<const std::uint8_t> packet, std::optional<udp::endpoint> client) {
  if (!connection_ || connection_->closed()) {
    metrics_.dropped(Direction::Request, Drop::Disconnected);
    return false;
  }
  if (pending_.size() >= static_cast<std::size_t>(config_.max_outstanding)) {
    metrics_.dropped(Direction::Request, Drop::QueueFull);
    return false;
  }
  const auto id = next_id_++;
  auto& p = pending_[id];
  p.client = client;
  p.transmit = transmit_timestamp(packet);
  p.timer = time_.make_timer();
  p.timer->arm(config_.request_timeout, [this, id] {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    if (!it->second.client) measured_timeout_.Increment();
    pending_.erase(it);
    metrics_.dropped(Direction::Request, Drop::Timeout);
    metrics_.outstanding.Set(static_cast<double>(pending_.size()));
  });
  connection_->send(static_cast<std::uint8_t>(ChannelType::Request),
                    encode_datagram(id, {reinterpret_cast<const char*>(packet.data()), packet.size()}));
  metrics_.relayed(Direction::Request);
  metrics_.outstanding.Set(static_cast<double>(pending_.size()));
  return true;
}

void EnclaveRelay::on_reply(std::string_view payload) {
  auto datagram = decode_datagram(payload);
  if (!datagram) return connection_->reject(relay::FrameError::Malformed, "reply shorter than its id");
  const auto packet = bytes_of(datagram->packet);
  if (auto error = check_server_reply(packet)) return metrics_.dropped(Direction::Reply, *error);
  auto it = pending_.find(datagram->id);
  // The parent pairs replies with requests; we check it did so honestly.
  if (it == pending_.end() || !(origin_timestamp(packet) == it->second.transmit)) {
    return metrics_.dropped(Direction::Reply, Drop::Unsolicited);
  }
  auto p = std::move(it->second);
  pending_.erase(it);
  metrics_.outstanding.Set(static_cast<double>(pending_.size()));
  metrics_.relayed(Direction::Reply);
  if (!p.client) return record_measurement(packet, p.transmit);
  boost::system::error_code ec;
  socket_.send_to(boost::asio::buffer(packet.data(), packet.size()), *p.client, 0, ec);
  if (ec) log_->debug("ntp: reply to {} lost: {}", p.client->address().to_string(), ec.message());
}

void EnclaveRelay::measure() {
  if (stopped_) return;
  // t1 is both our transmit timestamp and, echoed as the origin, the key of the reply.
  const auto t1 = to_ntp(time_.system_now());
  const auto request = make_client_request(t1);
  forward({request.data(), request.size()}, std::nullopt);
  measure_timer_->arm(config_.measure_interval, [this] { measure(); });
}

void EnclaveRelay::record_measurement(std::span<const std::uint8_t> reply, Timestamp t1) {
  const auto t4 = to_ntp(time_.system_now());
  const auto header = parse_header(reply);
  if (!header || is_kiss_of_death(*header)) {
    measured_invalid_.Increment();
    return;
  }
  const auto sample = compute_sample(t1, header->receive, header->transmit, t4);
  // RFC 5905's offset is the server's clock minus ours; we report ours minus the server's.
  last_offset_ = -sample.offset_seconds;
  offset_.Set(last_offset_);
  round_trip_.Set(sample.delay_seconds);
  measured_ok_.Increment();
  last_good_ = time_.now();
  refresh_metrics();
}

void EnclaveRelay::refresh_metrics() {
  if (!last_good_) {
    synchronized_.Set(0);
    return;
  }
  const auto age = time_.now() - *last_good_;
  last_sync_age_.Set(std::chrono::duration<double>(age).count());
  const bool in_sync = age <= config_.sync_timeout &&
                       std::abs(last_offset_) <= std::chrono::duration<double>(config_.max_offset).count();
  synchronized_.Set(in_sync ? 1 : 0);
}

}  // namespace porthole::ntp

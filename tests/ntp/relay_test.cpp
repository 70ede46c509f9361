// Both halves of the NTP relay, wired together over a real uds socket, with a fake upstream
// NTP server on loopback UDP and time advanced by hand.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <prometheus/registry.h>

#include "porthole/common/manual_time.hpp"
#include "porthole/ntp/channel.hpp"
#include "porthole/ntp/enclave_relay.hpp"
#include "porthole/ntp/upstream_forwarder.hpp"
#include "raw_control_peer.hpp"

namespace porthole::ntp {
namespace {

using boost::asio::ip::udp;
using std::chrono::milliseconds;
using std::chrono::seconds;

double value_of(prometheus::Registry& r, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  for (const auto& f : r.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found |= (l.name == k && l.value == v);
        match &= found;
      }
      if (!match) continue;
      switch (f.type) {
        case prometheus::MetricType::Counter: return m.counter.value;
        case prometheus::MetricType::Gauge: return m.gauge.value;
        default: return -1;
      }
    }
  }
  return -12345;
}

class NtpRelayTest : public ::testing::Test {
 protected:
  static std::string make_temp_dir() {
    char tmpl[] = "/tmp/porthole-ntp-XXXXXX";
    return mkdtemp(tmpl);
  }
  NtpRelayTest() {
    upstream_.open(udp::v4());
    upstream_.bind(udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    upstream_.non_blocking(true);
    sidecar_config_.upstreams = {"127.0.0.1:" + std::to_string(upstream_.local_endpoint().port())};
    sidecar_config_.failover_after = 2;
    agent_config_.listen = "127.0.0.1:0";
    agent_config_.measure_interval = seconds(1);
    agent_config_.sync_timeout = seconds(3);
  }
  ~NtpRelayTest() override {
    if (forwarder_) forwarder_->stop();
    if (relay_) relay_->stop();
    std::filesystem::remove_all(dir_);
  }

  void start() {
    forwarder_.emplace(io_.get_executor(), time_, sidecar_config_, transport_.endpoint(3, 7003), relay::StreamOptions{},
                       parent_registry_);
    forwarder_->start();
    relay::DialerOptions dialer{"ntp", transport_.endpoint(3, 7003), {}, {milliseconds(100), seconds(1), 2.0}, seconds(1)};
    relay_.emplace(io_.get_executor(), time_, agent_config_, dialer, enclave_registry_, [] { return 0.0; });
    relay_->start();
    settle();
    client_.open(udp::v4());
    client_.non_blocking(true);
  }
  void settle() { porthole::testing::settle(io_); }

  // The fake upstream answers every request it has received, `offset` ahead of our clock.
  int serve_upstream(double offset_seconds = 0, std::uint8_t mode = 4) {
    int answered = 0;
    std::array<std::uint8_t, 2048> buf{};
    udp::endpoint from;
    boost::system::error_code ec;
    for (;;) {
      const auto n = upstream_.receive_from(boost::asio::buffer(buf), from, 0, ec);
      if (ec) break;
      auto reply = make_reply({buf.data(), n}, offset_seconds, mode);
      upstream_.send_to(boost::asio::buffer(reply), from);
      ++answered;
    }
    return answered;
  }
  std::vector<std::uint8_t> make_reply(std::span<const std::uint8_t> request, double offset_seconds, std::uint8_t mode) {
    std::vector<std::uint8_t> r(48, 0);
    r[0] = static_cast<std::uint8_t>((4 << 3) | mode);
    r[1] = 2;  // stratum
    const auto now = time_.system_now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                              std::chrono::duration<double>(offset_seconds));
    const auto ts = to_ntp(now);
    auto put = [&r](std::size_t at, Timestamp t) {
      for (int i = 0; i < 4; ++i) r[at + i] = static_cast<std::uint8_t>(t.seconds >> (24 - 8 * i));
      for (int i = 0; i < 4; ++i) r[at + 4 + i] = static_cast<std::uint8_t>(t.fraction >> (24 - 8 * i));
    };
    put(24, transmit_timestamp(request));  // origin = the request's transmit
    put(32, ts);
    put(40, ts);
    return r;
  }
  // Sends a datagram to the agent's UDP endpoint as chronyd would.
  void client_send(const std::vector<std::uint8_t>& packet) {
    client_.send_to(boost::asio::buffer(packet), relay_->local_endpoint());
  }
  int client_receive() {
    std::array<std::uint8_t, 2048> buf{};
    udp::endpoint from;
    boost::system::error_code ec;
    int n = 0;
    while (!ec) {
      client_.receive_from(boost::asio::buffer(buf), from, 0, ec);
      if (!ec) ++n;
    }
    return n;
  }
  double enclave(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return value_of(enclave_registry_, name, labels);
  }
  double parent(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return value_of(parent_registry_, name, labels);
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  std::string dir_ = make_temp_dir();
  relay::Transport transport_ = relay::parse_transport("uds:" + dir_);
  udp::socket upstream_{io_};
  udp::socket client_{io_};
  SidecarNtpConfig sidecar_config_;
  AgentNtpConfig agent_config_;
  prometheus::Registry parent_registry_, enclave_registry_;
  std::optional<UpstreamForwarder> forwarder_;
  std::optional<EnclaveRelay> relay_;
};

TEST_F(NtpRelayTest, AClientRequestGoesUpAndItsReplyComesBack) {
  start();
  client_send(make_client_request(to_ntp(time_.system_now())));
  settle();
  EXPECT_EQ(serve_upstream(), 1);
  settle();
  EXPECT_EQ(client_receive(), 1);
  EXPECT_EQ(enclave("porthole_ntp_relayed_total", {{"direction", "reply"}}), 1);
  EXPECT_EQ(parent("porthole_ntp_relayed_total", {{"direction", "request"}}), 1);
  EXPECT_EQ(parent("porthole_ntp_upstream_requests_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(parent("porthole_ntp_outstanding"), 0);
}

TEST_F(NtpRelayTest, TheAgentMeasuresTheEnclaveClockThroughTheRelay) {
  start();
  EXPECT_TRUE(std::isnan(enclave("porthole_ntp_clock_offset_seconds")));
  EXPECT_EQ(enclave("porthole_ntp_synchronized"), 0);
  time_.advance(milliseconds(200));  // the first measurement
  settle();
  serve_upstream(0.25);  // the upstream is 250 ms ahead: the enclave clock is 250 ms behind
  settle();
  EXPECT_NEAR(enclave("porthole_ntp_clock_offset_seconds"), -0.25, 1e-6);
  EXPECT_NEAR(enclave("porthole_ntp_round_trip_seconds"), 0.0, 1e-6);
  EXPECT_EQ(enclave("porthole_ntp_synchronized"), 0);  // |offset| > max_offset (100 ms)
  time_.advance(seconds(1));
  settle();
  serve_upstream(0.001);
  settle();
  relay_->refresh_metrics();
  EXPECT_EQ(enclave("porthole_ntp_synchronized"), 1);
  EXPECT_EQ(enclave("porthole_ntp_measurements_total", {{"result", "ok"}}), 2);
}

TEST_F(NtpRelayTest, ASilentUpstreamIsCountedMarkedDownAndUnsynchronises) {
  start();
  time_.advance(milliseconds(200));
  settle();
  serve_upstream();
  settle();
  relay_->refresh_metrics();
  ASSERT_EQ(enclave("porthole_ntp_synchronized"), 1);
  for (int i = 0; i < 5; ++i) {  // the upstream stops answering
    time_.advance(seconds(1));
    settle();
  }
  relay_->refresh_metrics();
  EXPECT_EQ(enclave("porthole_ntp_synchronized"), 0);
  EXPECT_GT(enclave("porthole_ntp_last_sync_age_seconds"), 3);
  EXPECT_GE(parent("porthole_ntp_upstream_requests_total", {{"result", "timeout"}}), 2);
  EXPECT_EQ(parent("porthole_ntp_upstream_up"), 0);
  EXPECT_GE(parent("porthole_ntp_dropped_total", {{"direction", "request"}, {"reason", "timeout"}}), 2);
  time_.advance(seconds(1));  // it is back
  settle();
  serve_upstream();
  settle();
  relay_->refresh_metrics();
  EXPECT_EQ(parent("porthole_ntp_upstream_up"), 1);
  EXPECT_EQ(enclave("porthole_ntp_synchronized"), 1);
}

TEST_F(NtpRelayTest, OnlyValidClientRequestsLeaveTheEnclave) {
  start();
  client_send(std::vector<std::uint8_t>(20, 0x23));  // too short
  auto server_mode = make_client_request(to_ntp(time_.system_now()));
  server_mode[0] = (4 << 3) | 4;
  client_send(server_mode);  // wrong mode
  client_send(std::vector<std::uint8_t>(1100, 0x23));  // too long
  settle();
  EXPECT_EQ(serve_upstream(), 0);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "request"}, {"reason", "too_short"}}), 1);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "request"}, {"reason", "wrong_mode"}}), 1);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "request"}, {"reason", "too_long"}}), 1);
  EXPECT_EQ(client_receive(), 0);  // nothing answered: no amplification
}

TEST_F(NtpRelayTest, RepliesThatMatchNoRequestAreDropped) {
  start();
  // An unsolicited datagram "from the upstream" (a reply to a request never made).
  udp::socket stranger(io_, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  auto fake = make_reply(make_client_request(Timestamp{123, 456}), 0, 4);
  upstream_.send_to(boost::asio::buffer(fake), udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 9));
  client_send(make_client_request(to_ntp(time_.system_now())));
  settle();
  // The upstream answers twice to one request: the second is a replay.
  std::array<std::uint8_t, 2048> buf{};
  udp::endpoint from;
  const auto n = upstream_.receive_from(boost::asio::buffer(buf), from);
  auto reply = make_reply({buf.data(), n}, 0, 4);
  upstream_.send_to(boost::asio::buffer(reply), from);
  upstream_.send_to(boost::asio::buffer(reply), from);
  settle();
  EXPECT_EQ(client_receive(), 1);
  EXPECT_EQ(parent("porthole_ntp_dropped_total", {{"direction", "reply"}, {"reason", "unsolicited"}}), 1);
}

TEST_F(NtpRelayTest, RequestsBeyondTheRateLimitAreDropped) {
  agent_config_.max_requests_per_second = 2;  // burst 4
  start();
  for (int i = 0; i < 10; ++i) {
    client_send(make_client_request(Timestamp{1000, static_cast<std::uint32_t>(i + 1)}));
  }
  settle();
  EXPECT_EQ(serve_upstream(), 4);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "request"}, {"reason", "rate_limited"}}), 6);
}

}  // namespace
}  // namespace porthole::ntp

namespace porthole::ntp {
namespace {

// The parent is untrusted: a hand-driven "sidecar" sends the agent forged replies.
class UntrustedParentTest : public NtpRelayTest {
 protected:
  void start_agent_only() {
    acceptor_.emplace(relay::listen(io_.get_executor(), transport_.endpoint(3, 7003)));
    relay::DialerOptions dialer{"ntp", transport_.endpoint(3, 7003), {}, {milliseconds(100), seconds(1), 2.0}, seconds(1)};
    agent_config_.measure_interval = Duration::zero();
    relay_.emplace(io_.get_executor(), time_, agent_config_, dialer, enclave_registry_, [] { return 0.0; });
    relay_->start();
    bool accepted = false;
    acceptor_->async_accept(sidecar_, [&](const boost::system::error_code& ec) { accepted = !ec; });
    settle();
    ASSERT_TRUE(accepted);
    porthole::testing::raw_write(sidecar_, porthole::testing::control_frame(
                                               static_cast<relay::ControlType>(ChannelType::Hello), encode_hello()));
    client_.open(udp::v4());
    client_.non_blocking(true);
    settle();
  }
  // Reads the requests the agent forwarded: (id, packet).
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> forwarded() {
    relay::FrameDecoder d(channel_frame_limits());
    std::array<char, 8192> buf{};
    boost::system::error_code ec;
    sidecar_.non_blocking(true);
    for (;;) {
      const auto n = sidecar_.read_some(boost::asio::buffer(buf), ec);
      if (ec) break;
      d.feed(buf.data(), n);
    }
    std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> out;
    while (auto f = d.next()) {
      if (f->type != static_cast<std::uint8_t>(ChannelType::Request)) continue;
      auto dg = decode_datagram(f->payload);
      out.emplace_back(dg->id, std::vector<std::uint8_t>(dg->packet.begin(), dg->packet.end()));
    }
    return out;
  }
  void reply(std::uint64_t id, const std::vector<std::uint8_t>& packet) {
    porthole::testing::raw_write(
        sidecar_, porthole::testing::control_frame(static_cast<relay::ControlType>(ChannelType::Reply),
                                                   encode_datagram(id, {reinterpret_cast<const char*>(packet.data()),
                                                                        packet.size()})));
    settle();
  }

  std::optional<relay::Acceptor> acceptor_;
  relay::Stream sidecar_{io_};
};

TEST_F(UntrustedParentTest, ForgedRepliesNeverReachChronyd) {
  start_agent_only();
  client_send(make_client_request(Timestamp{5000, 1}));
  settle();
  auto requests = forwarded();
  ASSERT_EQ(requests.size(), 1u);
  const auto [id, request] = requests[0];
  reply(id + 1000, make_reply(request, 0, 4));                             // an id never sent
  reply(id, make_reply(make_client_request(Timestamp{9, 9}), 0, 4));        // origin of another request
  reply(id, make_reply(request, 0, 3));                                     // a client packet, not a reply
  reply(id, std::vector<std::uint8_t>(30, 0x24));                           // too short
  EXPECT_EQ(client_receive(), 0);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "reply"}, {"reason", "unsolicited"}}), 2);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "reply"}, {"reason", "wrong_mode"}}), 1);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "reply"}, {"reason", "too_short"}}), 1);
  reply(id, make_reply(request, 0, 4));  // the genuine reply still gets through, once
  reply(id, make_reply(request, 0, 4));  // and a replay of it does not
  EXPECT_EQ(client_receive(), 1);
  EXPECT_EQ(enclave("porthole_ntp_dropped_total", {{"direction", "reply"}, {"reason", "unsolicited"}}), 3);
}

TEST_F(UntrustedParentTest, AFrameOfAnUnknownTypeClosesTheChannelAndItIsRedialled) {
  start_agent_only();
  porthole::testing::raw_write(sidecar_, std::string("\x00\x00\x00\x00\x09", 5));
  settle();
  EXPECT_EQ(enclave("porthole_frames_rejected_total", {{"channel", "ntp"}, {"reason", "unknown_type"}}), 1);
  relay::Stream again(io_);
  bool accepted = false;
  acceptor_->async_accept(again, [&](const boost::system::error_code& ec) { accepted = !ec; });
  time_.advance(milliseconds(100));
  settle();
  EXPECT_TRUE(accepted);
}

TEST_F(NtpRelayTest, AWildlyWrongUpstreamShowsInTheMetrics) {
  start();
  time_.advance(milliseconds(200));
  settle();
  serve_upstream(3600.0);  // an hour ahead
  settle();
  relay_->refresh_metrics();
  EXPECT_NEAR(enclave("porthole_ntp_clock_offset_seconds"), -3600.0, 1e-3);
  EXPECT_EQ(enclave("porthole_ntp_synchronized"), 0);
}

}  // namespace
}  // namespace porthole::ntp

// The agent's half of the NTP relay: a UDP endpoint inside the enclave (chronyd's "server"),
// one vsock connection to the sidecar (redialled forever), and the agent's own NTP measurement
// of the enclave clock through the same path — offset and round trip by its own arithmetic,
// not chrony's word. The parent is untrusted: only valid mode-3 requests leave, and a reply
// comes back only if it is a valid mode-4 reply whose origin timestamp is the transmit
// timestamp of a request still waiting.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/common/token_bucket.hpp"
#include "porthole/ntp/config.hpp"
#include "porthole/ntp/relay_metrics.hpp"
#include "porthole/relay/dialer.hpp"
#include "porthole/relay/frame_connection.hpp"

namespace porthole::ntp {

class EnclaveRelay {
 public:
  EnclaveRelay(boost::asio::any_io_executor executor, TimeSource& time, const AgentNtpConfig& config,
               relay::DialerOptions dialer, prometheus::Registry& registry, std::function<double()> uniform01);
  ~EnclaveRelay();

  void start();  // binds ntp.listen (throws std::runtime_error naming it) and dials the sidecar
  void stop();
  // Updates the gauges that depend on "now" (sync state, age of the last good sync).
  void refresh_metrics();
  boost::asio::ip::udp::endpoint local_endpoint() const { return socket_.local_endpoint(); }

 private:
  struct Pending {
    std::optional<boost::asio::ip::udp::endpoint> client;  // none: the agent's own measurement
    Timestamp transmit;
    std::unique_ptr<Timer> timer;
  };

  void on_connected(relay::Stream stream);
  void on_frame(relay::Frame&& frame);
  void on_reply(std::string_view payload);
  void receive_next();
  void on_datagram(std::span<const std::uint8_t> packet);
  bool forward(std::span<const std::uint8_t> packet, std::optional<boost::asio::ip::udp::endpoint> client);
  void measure();
  void record_measurement(std::span<const std::uint8_t> reply, Timestamp t1);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const AgentNtpConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  RelayMetrics metrics_;
  relay::Dialer dialer_;
  std::shared_ptr<relay::FrameConnection> connection_;
  MonoTime connected_at_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint sender_;
  std::array<std::uint8_t, kMaxPacketBytes + 1> buffer_{};
  TokenBucket bucket_;
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t next_id_ = 1;
  std::unique_ptr<Timer> measure_timer_;

  prometheus::Gauge& offset_;
  prometheus::Gauge& round_trip_;
  prometheus::Gauge& synchronized_;
  prometheus::Gauge& last_sync_age_;
  prometheus::Counter& measured_ok_;
  prometheus::Counter& measured_timeout_;
  prometheus::Counter& measured_invalid_;
  std::optional<MonoTime> last_good_;
  double last_offset_ = 0;
  bool stopped_ = false;
};

}  // namespace porthole::ntp

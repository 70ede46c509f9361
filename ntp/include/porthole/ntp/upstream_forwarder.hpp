// The sidecar's half of the NTP relay: accepts the agent on the NTP vsock port, forwards each
// valid client request to the selected upstream server over UDP and returns the matching
// reply. One reply per request at most (no amplification); replies are matched by the NTP
// origin timestamp and must come from the server that was asked. Failover to the next upstream
// after `failover_after` consecutive timeouts.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/common/token_bucket.hpp"
#include "porthole/ntp/config.hpp"
#include "porthole/ntp/relay_metrics.hpp"
#include "porthole/relay/frame_connection.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::ntp {

class UpstreamForwarder {
 public:
  UpstreamForwarder(boost::asio::any_io_executor executor, TimeSource& time, const SidecarNtpConfig& config,
                    relay::Endpoint listen_on, relay::StreamOptions stream_options, prometheus::Registry& registry);
  ~UpstreamForwarder();

  // Resolves the upstreams and starts listening; throws std::runtime_error naming what failed.
  void start();
  void stop();

 private:
  struct Upstream;
  struct Agent;
  struct Pending {
    std::weak_ptr<relay::FrameConnection> agent;
    std::uint64_t id = 0;
    std::size_t upstream = 0;
    MonoTime sent;
    std::unique_ptr<Timer> timer;
  };

  void on_accepted(relay::Stream stream);
  void on_frame(Agent& agent, relay::Frame&& frame);
  void on_request(Agent& agent, std::string_view payload);
  void receive_next(std::size_t upstream);
  void on_reply(std::size_t upstream, std::span<const std::uint8_t> packet);
  void on_timeout(Timestamp key);
  void select_next_upstream();

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const SidecarNtpConfig& config_;
  relay::Endpoint listen_on_;
  relay::StreamOptions stream_options_;
  prometheus::Registry& registry_;
  std::shared_ptr<spdlog::logger> log_;
  RelayMetrics metrics_;
  std::optional<relay::Acceptor> acceptor_;
  std::optional<relay::AcceptLoop> accept_loop_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  std::size_t selected_ = 0;
  std::map<relay::FrameConnection*, std::unique_ptr<Agent>> agents_;
  std::map<std::uint64_t, Pending> pending_;  // by the request's transmit timestamp
  bool stopped_ = false;
};

}  // namespace porthole::ntp

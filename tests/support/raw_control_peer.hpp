// Test helpers that speak the control protocol by hand, the way a broken or hostile peer would.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include "porthole/relay/control_protocol.hpp"
#include "porthole/relay/frame.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::testing {

inline std::string control_frame(relay::ControlType type, std::string_view payload) {
  std::string out;
  relay::encode_frame(static_cast<std::uint8_t>(type), payload, out);
  return out;
}

inline std::string hello_frame(relay::Role role, std::uint16_t version = relay::kControlProtocolVersion,
                               std::string name = "raw-peer") {
  relay::Hello h;
  h.version = version;
  h.role = role;
  h.capabilities = relay::capability::kMetricsPull;
  h.name = std::move(name);
  return control_frame(relay::ControlType::Hello, relay::encode_hello(h));
}

inline void raw_write(relay::Stream& s, const std::string& bytes) {
  boost::asio::write(s, boost::asio::buffer(bytes));
}

// Everything the other side has sent so far, decoded; never blocks.
inline std::vector<relay::Frame> drain_frames(relay::Stream& s) {
  relay::FrameDecoder d(relay::control_frame_limits(16 << 20));
  std::array<char, 4096> buf{};
  boost::system::error_code ec;
  s.non_blocking(true);
  for (;;) {
    const auto n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    d.feed(buf.data(), n);
  }
  std::vector<relay::Frame> out;
  while (auto f = d.next()) out.push_back(std::move(*f));
  return out;
}

// Runs every handler that is ready, until nothing is left to run right now.
inline void settle(boost::asio::io_context& io) {
  for (int i = 0; i < 1000; ++i) {
    io.restart();
    if (io.poll() == 0) return;
  }
}

}  // namespace porthole::testing

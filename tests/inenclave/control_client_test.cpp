// The agent's dial loop: retries forever with backoff while the sidecar is away, connects when
// it appears, reconnects when it restarts. Real uds sockets, manual time.
#include "porthole/agent/control_client.hpp"

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "porthole/common/manual_time.hpp"
#include "raw_control_peer.hpp"

namespace porthole::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace porthole::testing;

class ControlClientTest : public ::testing::Test {
 protected:
  // The config must be complete before client_ is constructed (it captures the endpoint).
  static std::string make_temp_dir() {
    char tmpl[] = "/tmp/porthole-test-XXXXXX";
    return mkdtemp(tmpl);
  }
  static AgentConfig make_config(const std::string& dir) {
    AgentConfig c;
    c.enclave_name = "enclave-x";
    c.boundary.transport = relay::parse_transport("uds:" + dir);
    return c;
  }
  ~ControlClientTest() override { std::filesystem::remove_all(dir_); }

  double attempts(const char* result) {
    for (const auto& f : registry_.Collect()) {
      if (f.name != "porthole_dial_attempts_total") continue;
      for (const auto& m : f.metric) {
        for (const auto& l : m.label) {
          if (l.name == "result" && l.value == result) return m.counter.value;
        }
      }
    }
    return -1;
  }

  // A sidecar stand-in: listens, accepts one agent, answers its hello.
  relay::Stream accept_and_greet(relay::Acceptor& acceptor) {
    relay::Stream s(io_);
    bool accepted = false;
    acceptor.async_accept(s, [&](const boost::system::error_code& ec) { accepted = !ec; });
    settle(io_);
    EXPECT_TRUE(accepted);
    raw_write(s, hello_frame(relay::Role::Sidecar, relay::kControlProtocolVersion, "sidecar"));
    settle(io_);
    return s;
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  std::string dir_ = make_temp_dir();
  AgentConfig config_ = make_config(dir_);
  prometheus::Registry registry_;
  relay::ControlMetrics metrics_{registry_, "enclave"};
  ControlClient client_{io_.get_executor(), time_, config_, metrics_, registry_,
                        [] { return std::string("agent_metric 1\n"); }, [] { return 0.0; }};
};

TEST_F(ControlClientTest, RetriesWithGrowingDelaysWhileTheSidecarIsAway) {
  client_.start();
  settle(io_);
  EXPECT_EQ(attempts("error"), 1);
  // Equal jitter with u=0: delays are 50, 100, 200, 400 ms.
  time_.advance(milliseconds(49));
  settle(io_);
  EXPECT_EQ(attempts("error"), 1);
  time_.advance(milliseconds(1));
  settle(io_);
  EXPECT_EQ(attempts("error"), 2);
  time_.advance(milliseconds(100));
  settle(io_);
  EXPECT_EQ(attempts("error"), 3);
  time_.advance(milliseconds(199));
  settle(io_);
  EXPECT_EQ(attempts("error"), 3);
  for (int i = 0; i < 100; ++i) {
    time_.advance(seconds(30));
    settle(io_);
  }
  EXPECT_GT(attempts("error"), 100);  // forever, capped at one try per (jittered) 30 s
  EXPECT_FALSE(client_.connected());
}

TEST_F(ControlClientTest, ConnectsWhenTheSidecarAppearsAndAnswersPulls) {
  client_.start();
  settle(io_);
  auto acceptor = relay::listen(io_.get_executor(), config_.boundary.control_endpoint());
  time_.advance(milliseconds(50));
  settle(io_);
  auto sidecar = accept_and_greet(acceptor);
  EXPECT_TRUE(client_.connected());
  EXPECT_EQ(metrics_.connected.Value(), 1);
  auto frames = drain_frames(sidecar);
  ASSERT_FALSE(frames.empty());
  auto hello = relay::decode_hello(frames[0].payload);
  EXPECT_EQ(hello->name, "enclave-x");
  raw_write(sidecar, control_frame(relay::ControlType::MetricsRequest, relay::encode_u64(5)));
  settle(io_);
  frames = drain_frames(sidecar);
  ASSERT_EQ(frames.size(), 1u);
  auto response = relay::decode_metrics_response(frames[0].payload);
  EXPECT_EQ(response->id, 5u);
  EXPECT_EQ(response->text, "agent_metric 1\n");
}

TEST_F(ControlClientTest, ReconnectsAfterTheSidecarRestarts) {
  auto acceptor = relay::listen(io_.get_executor(), config_.boundary.control_endpoint());
  client_.start();
  settle(io_);
  auto first = accept_and_greet(acceptor);
  ASSERT_TRUE(client_.connected());
  for (int i = 0; i < 10; ++i) {  // a session that stayed up resets the backoff...
    raw_write(first, control_frame(relay::ControlType::Heartbeat, relay::encode_u64(i)));
    time_.advance(seconds(1));
    settle(io_);
  }
  ASSERT_TRUE(client_.connected());
  first.close();
  settle(io_);
  EXPECT_FALSE(client_.connected());
  EXPECT_EQ(metrics_.connected.Value(), 0);
  EXPECT_EQ(metrics_.disconnects[relay::CloseReason::PeerClosed]->Value(), 1);
  time_.advance(milliseconds(50));  // ...so the first retry comes after the initial delay
  settle(io_);
  auto second = accept_and_greet(acceptor);
  EXPECT_TRUE(client_.connected());
  EXPECT_EQ(metrics_.connects.Value(), 2);
}

TEST_F(ControlClientTest, StopTellsTheSidecarAndStopsDialling) {
  auto acceptor = relay::listen(io_.get_executor(), config_.boundary.control_endpoint());
  client_.start();
  settle(io_);
  auto sidecar = accept_and_greet(acceptor);
  drain_frames(sidecar);
  client_.stop();
  settle(io_);
  auto frames = drain_frames(sidecar);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(relay::decode_error(frames[0].payload)->code, relay::ErrorCode::Shutdown);
  time_.advance(seconds(60));
  settle(io_);
  EXPECT_FALSE(client_.connected());
  EXPECT_EQ(attempts("ok"), 1);
}

}  // namespace
}  // namespace porthole::agent

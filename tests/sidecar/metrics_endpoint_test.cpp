// The /metrics pull-through: live relay, snapshot fallback, and the relabelling that keeps an
// enclave from posing as the parent. A hand-driven agent on a real uds socket, manual time.
#include "porthole/sidecar/metrics_endpoint.hpp"

#include <cstdlib>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>

#include "porthole/common/manual_time.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "raw_control_peer.hpp"

namespace porthole::sidecar {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace porthole::testing;

class MetricsEndpointTest : public ::testing::Test {
 protected:
  MetricsEndpointTest() {
    char tmpl[] = "/tmp/porthole-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.boundary.transport = relay::parse_transport("uds:" + dir_);
    server_.start();
  }
  ~MetricsEndpointTest() override {
    server_.stop();
    std::filesystem::remove_all(dir_);
  }

  // Connects a hand-driven agent and says hello.
  void connect_agent(const std::string& name = "enclave-7") {
    agent_.connect(config_.boundary.control_endpoint().to_asio());
    raw_write(agent_, hello_frame(relay::Role::Agent, relay::kControlProtocolVersion, name));
    settle(io_);
    ASSERT_TRUE(server_.ready());
  }

  // Starts a render, answers the pull with `text` (unless nullopt) and returns the exposition.
  std::optional<std::string> scrape(const std::optional<std::string>& answer, Duration wait = {}) {
    std::optional<std::string> out;
    endpoint_.render([&](std::string text) { out = std::move(text); });
    settle(io_);
    if (answer) {
      for (const auto& f : drain_frames(agent_)) {
        if (f.type != static_cast<std::uint8_t>(relay::ControlType::MetricsRequest)) continue;
        const auto id = *relay::decode_u64(f.payload);
        raw_write(agent_, control_frame(relay::ControlType::MetricsResponse,
                                        relay::encode_metrics_response({id, *answer})));
      }
      settle(io_);
    }
    if (wait.count()) {
      time_.advance(wait);
      settle(io_);
    }
    return out;
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  std::string dir_;
  SidecarConfig config_;
  prometheus::Registry registry_;
  relay::ControlMetrics metrics_{registry_, "parent"};
  ControlServer server_{io_.get_executor(), time_, config_, metrics_};
  MetricsEndpoint endpoint_{server_, time_, registry_, {}, seconds(2)};
  relay::Stream agent_{io_};
};

TEST_F(MetricsEndpointTest, WithNoAgentTheSidecarSaysTheEnclaveIsDown) {
  auto text = scrape(std::nullopt);
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_up{side=\"parent\",enclave=\"unknown\"} 0"));
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_metrics_pulls_total{side=\"parent\",result=\"disconnected\"} 1"));
  EXPECT_THAT(*text, Not(HasSubstr("porthole_enclave_metrics_age_seconds{")));
}

TEST_F(MetricsEndpointTest, LiveMetricsAreRelabelledAndCannotPoseAsTheParent) {
  connect_agent();
  auto text = scrape(std::string(
      "# TYPE porthole_control_connected gauge\n"
      "porthole_control_connected{side=\"parent\"} 1 1700000000000\n"
      "# TYPE workload_requests_total counter\n"
      "workload_requests_total{code=\"200\"} 5\n"));
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_up{side=\"parent\",enclave=\"enclave-7\"} 1"));
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_metrics_age_seconds{side=\"parent\",enclave=\"enclave-7\"} 0"));
  // The agent's claim to be side="parent" is overwritten; its timestamp is dropped.
  EXPECT_THAT(*text, HasSubstr("porthole_control_connected{enclave=\"enclave-7\",side=\"enclave\"} 1\n"));
  EXPECT_THAT(*text, HasSubstr("workload_requests_total{code=\"200\",enclave=\"enclave-7\",side=\"enclave\"} 5\n"));
  // Same family on both sides, one TYPE line: the exposition stays valid.
  const auto type_line = std::string("# TYPE porthole_control_connected gauge");
  EXPECT_EQ(text->find(type_line), text->rfind(type_line));
  EXPECT_THAT(*text, HasSubstr("porthole_control_connected{side=\"parent\"} 1"));
}

TEST_F(MetricsEndpointTest, WhenTheAgentStopsAnsweringTheLastSnapshotIsServedAndMarkedStale) {
  connect_agent();
  ASSERT_TRUE(scrape(std::string("enclave_thing 42\n")));
  time_.advance(seconds(1));
  raw_write(agent_, control_frame(relay::ControlType::Heartbeat, relay::encode_u64(1)));
  settle(io_);
  auto pending = scrape(std::nullopt);
  EXPECT_FALSE(pending);  // still waiting for the agent, within scrape_timeout
  std::optional<std::string> text;
  endpoint_.render([&](std::string t) { text = std::move(t); });
  time_.advance(seconds(2));
  settle(io_);
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_up{side=\"parent\",enclave=\"enclave-7\"} 0"));
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_metrics_age_seconds{side=\"parent\",enclave=\"enclave-7\"} 3"));
  EXPECT_THAT(*text, HasSubstr("enclave_thing{enclave=\"enclave-7\",side=\"enclave\"} 42"));
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_metrics_pulls_total{side=\"parent\",result=\"timeout\"} 2"));
}

TEST_F(MetricsEndpointTest, InvalidLinesAreDroppedAndCountedTheRestIsKept) {
  connect_agent();
  auto text = scrape(std::string("good_metric 1\nbad-metric 2\ngood_metric{x=\"unterminated} 3\nother 4\n"));
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, HasSubstr("good_metric{enclave=\"enclave-7\",side=\"enclave\"} 1"));
  EXPECT_THAT(*text, HasSubstr("other{enclave=\"enclave-7\",side=\"enclave\"} 4"));
  EXPECT_THAT(*text, Not(HasSubstr("bad-metric")));
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_metrics_dropped_total{side=\"parent\",reason=\"invalid_line\"} 2"));
}

TEST_F(MetricsEndpointTest, AFamilyWhoseTypeConflictsWithTheSidecarsIsDropped) {
  connect_agent();
  auto text = scrape(std::string("# TYPE porthole_control_connects_total gauge\nporthole_control_connects_total 9\n"));
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, Not(HasSubstr("porthole_control_connects_total{enclave")));
  EXPECT_THAT(*text, HasSubstr("# TYPE porthole_control_connects_total counter"));
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_metrics_dropped_total{side=\"parent\",reason=\"type_conflict\"} 1"));
}

TEST_F(MetricsEndpointTest, SeriesThatCollideOnceRelabelledAreDroppedNotDuplicated) {
  connect_agent();
  // Two series differing only in the labels the sidecar overwrites would be one series twice.
  auto text = scrape(std::string("x{side=\"a\"} 1\nx{side=\"b\"} 2\n"));
  ASSERT_TRUE(text);
  EXPECT_THAT(*text, HasSubstr("x{enclave=\"enclave-7\",side=\"enclave\"} 1\n"));
  EXPECT_THAT(*text, Not(HasSubstr("} 2\n# ")));
  EXPECT_THAT(*text, HasSubstr("porthole_enclave_metrics_dropped_total{side=\"parent\",reason=\"duplicate_series\"} 1"));
}

TEST_F(MetricsEndpointTest, ConfiguredEnclaveNameRejectsAnImpostor) {
  // A sidecar configured for "payments" must not adopt another enclave's session.
  config_.enclave_name = "payments";
  agent_.connect(config_.boundary.control_endpoint().to_asio());
  raw_write(agent_, hello_frame(relay::Role::Agent, relay::kControlProtocolVersion, "impostor"));
  settle(io_);
  EXPECT_FALSE(server_.ready());
  EXPECT_EQ(metrics_.disconnects[relay::CloseReason::ProtocolError]->Value(), 1);
}

}  // namespace
}  // namespace porthole::sidecar

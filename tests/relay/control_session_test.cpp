// ControlSession over a real socket pair, with time advanced by hand: no sleeps anywhere.
#include "porthole/relay/control_session.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <prometheus/registry.h>

#include "porthole/common/logging.hpp"
#include "porthole/common/manual_time.hpp"
#include "raw_control_peer.hpp"

namespace porthole::relay {
namespace {

using porthole::testing::drain_frames;
using porthole::testing::hello_frame;
using porthole::testing::raw_write;

using std::chrono::milliseconds;
using std::chrono::seconds;

class ControlSessionTest : public ::testing::Test {
 protected:
  ControlSessionTest() { std::tie(agent_end_, sidecar_end_) = stream_pair(); }

  std::pair<Stream, Stream> stream_pair() {
    boost::asio::local::stream_protocol::socket a(io_), b(io_);
    boost::asio::local::connect_pair(a, b);
    const boost::asio::generic::stream_protocol unix_stream(AF_UNIX, SOCK_STREAM);
    return {Stream(io_, unix_stream, a.release()), Stream(io_, unix_stream, b.release())};
  }

  void settle() { porthole::testing::settle(io_); }
  void advance(Duration d) {
    time_.advance(d);
    settle();
  }

  std::shared_ptr<ControlSession> make(Role role, Stream stream, ControlMetrics& metrics,
                                       std::function<std::string()> provider = nullptr) {
    ControlSessionOptions o;
    o.role = role;
    o.local_name = role == Role::Agent ? "enclave-a" : "sidecar-a";
    o.max_frame_bytes = 64 * 1024;
    ControlSession::Callbacks cb;
    cb.on_ready = [this, role](const Hello&) { (role == Role::Agent ? agent_ready_ : sidecar_ready_) = true; };
    cb.on_closed = [this, role](CloseReason r, const std::string& detail) {
      (role == Role::Agent ? agent_closed_ : sidecar_closed_) = r;
      last_detail_ = detail;
    };
    cb.metrics_provider = std::move(provider);
    auto s = ControlSession::create(std::move(stream), time_, o, metrics, logger("test"), std::move(cb));
    s->start();
    return s;
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  prometheus::Registry agent_registry_, sidecar_registry_;
  ControlMetrics agent_metrics_{agent_registry_, "enclave"};
  ControlMetrics sidecar_metrics_{sidecar_registry_, "parent"};
  Stream agent_end_{io_}, sidecar_end_{io_};
  bool agent_ready_ = false, sidecar_ready_ = false;
  std::optional<CloseReason> agent_closed_, sidecar_closed_;
  std::string last_detail_;
};

TEST_F(ControlSessionTest, HelloMakesBothSidesReady) {
  auto a = make(Role::Agent, std::move(agent_end_), agent_metrics_);
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  settle();
  EXPECT_TRUE(agent_ready_);
  EXPECT_TRUE(sidecar_ready_);
  EXPECT_EQ(a->peer().name, "sidecar-a");
  EXPECT_EQ(s->peer().name, "enclave-a");
  EXPECT_EQ(s->peer().role, Role::Agent);
  EXPECT_EQ(agent_metrics_.connects.Value(), 1);
  EXPECT_EQ(sidecar_metrics_.connects.Value(), 1);
}

TEST_F(ControlSessionTest, HeartbeatsKeepAnIdleSessionAlive) {
  auto a = make(Role::Agent, std::move(agent_end_), agent_metrics_);
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  settle();
  for (int i = 0; i < 30; ++i) advance(milliseconds(500));
  EXPECT_TRUE(a->ready());
  EXPECT_TRUE(s->ready());
  EXPECT_GE(agent_metrics_.frames_tx[ControlType::Heartbeat]->Value(), 14);
  EXPECT_GE(sidecar_metrics_.frames_rx[ControlType::Heartbeat]->Value(), 14);
}

TEST_F(ControlSessionTest, ASilentPeerTimesOutAfterTheHeartbeatTimeout) {
  auto a = make(Role::Agent, std::move(agent_end_), agent_metrics_);
  raw_write(sidecar_end_, hello_frame(Role::Sidecar));  // says hello, then nothing ever again
  settle();
  ASSERT_TRUE(agent_ready_);
  advance(seconds(4));
  EXPECT_FALSE(agent_closed_);
  advance(seconds(2) + milliseconds(100));
  ASSERT_EQ(agent_closed_, CloseReason::HeartbeatTimeout);
  EXPECT_EQ(agent_metrics_.disconnects[CloseReason::HeartbeatTimeout]->Value(), 1);
  EXPECT_FALSE(a->ready());
}

TEST_F(ControlSessionTest, APeerThatConnectsAndSaysNothingHitsTheHelloTimeout) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  advance(seconds(4));
  EXPECT_FALSE(sidecar_closed_);
  advance(seconds(1));
  EXPECT_EQ(sidecar_closed_, CloseReason::HelloTimeout);
  EXPECT_EQ(sidecar_metrics_.disconnects[CloseReason::HelloTimeout]->Value(), 1);
}

TEST_F(ControlSessionTest, UnknownVersionIsRefusedWithAnErrorFrameThePeerCanRead) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  raw_write(agent_end_, hello_frame(Role::Agent, 9));
  settle();
  ASSERT_EQ(sidecar_closed_, CloseReason::VersionMismatch);
  EXPECT_NE(last_detail_.find("the peer speaks control protocol v9, this sidecar speaks v1"), std::string::npos);
  auto frames = drain_frames(agent_end_);
  ASSERT_EQ(frames.size(), 2u);  // its hello, then the error
  EXPECT_EQ(frames[1].type, static_cast<std::uint8_t>(ControlType::Error));
  auto e = decode_error(frames[1].payload);
  EXPECT_EQ(e->code, ErrorCode::VersionMismatch);
  EXPECT_EQ(sidecar_metrics_.disconnects[CloseReason::VersionMismatch]->Value(), 1);
}

TEST_F(ControlSessionTest, TheRefusedSideAlsoReportsTheMismatch) {
  auto a = make(Role::Agent, std::move(agent_end_), agent_metrics_);
  std::string error;
  encode_frame(static_cast<std::uint8_t>(ControlType::Error),
               encode_error({ErrorCode::VersionMismatch, "sidecar speaks v2"}), error);
  raw_write(sidecar_end_, error);
  settle();
  EXPECT_EQ(agent_closed_, CloseReason::VersionMismatch);
  EXPECT_EQ(last_detail_, "peer says: sidecar speaks v2");
}

TEST_F(ControlSessionTest, OversizedFrameIsCountedAndClosesOnlyThisSession) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  raw_write(agent_end_, hello_frame(Role::Agent));
  raw_write(agent_end_, std::string("\x00\x10\x00\x00\x02", 5));  // 1 MiB heartbeat, limit is 64 KiB
  settle();
  EXPECT_EQ(sidecar_closed_, CloseReason::ProtocolError);
  EXPECT_EQ(sidecar_metrics_.rejected[FrameError::Oversized].Value(), 1);
}

TEST_F(ControlSessionTest, UnknownFrameTypeIsCounted) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  raw_write(agent_end_, hello_frame(Role::Agent));
  raw_write(agent_end_, std::string("\x00\x00\x00\x00\x63", 5));
  settle();
  EXPECT_EQ(sidecar_closed_, CloseReason::ProtocolError);
  EXPECT_EQ(sidecar_metrics_.rejected[FrameError::UnknownType].Value(), 1);
}

TEST_F(ControlSessionTest, TruncatedFrameAtCloseIsCounted) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  raw_write(agent_end_, hello_frame(Role::Agent));
  raw_write(agent_end_, std::string("\x00\x00\x00\x08\x02\x00\x00", 7));
  agent_end_.shutdown(Stream::shutdown_send);
  settle();
  EXPECT_EQ(sidecar_closed_, CloseReason::ProtocolError);
  EXPECT_EQ(sidecar_metrics_.rejected[FrameError::Truncated].Value(), 1);
}

TEST_F(ControlSessionTest, FramesBeforeHelloAndMalformedPayloadsAreRejected) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  std::string hb;
  encode_frame(static_cast<std::uint8_t>(ControlType::Heartbeat), encode_u64(1), hb);
  raw_write(agent_end_, hb);
  settle();
  EXPECT_EQ(sidecar_closed_, CloseReason::ProtocolError);
  EXPECT_EQ(sidecar_metrics_.rejected[FrameError::Malformed].Value(), 1);
}

TEST_F(ControlSessionTest, TwoAgentsCannotTalkToEachOther) {
  auto a = make(Role::Agent, std::move(agent_end_), agent_metrics_);
  raw_write(sidecar_end_, hello_frame(Role::Agent));
  settle();
  EXPECT_EQ(agent_closed_, CloseReason::ProtocolError);
  EXPECT_NE(last_detail_.find("hello from a agent, expected a sidecar"), std::string::npos);
}

TEST_F(ControlSessionTest, MetricsArePulledThroughTheSession) {
  auto a = make(Role::Agent, std::move(agent_end_), agent_metrics_, [] { return std::string("enclave_thing 1\n"); });
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  settle();
  std::optional<std::string> got;
  std::string failure = "not called";
  s->request_metrics(seconds(2), [&](std::optional<std::string> text, std::string_view why) {
    got = std::move(text);
    failure = why;
  });
  settle();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "enclave_thing 1\n");
  EXPECT_EQ(failure, "");
}

TEST_F(ControlSessionTest, AnUnansweredPullTimesOutAndALateAnswerIsIgnored) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  raw_write(agent_end_, hello_frame(Role::Agent));
  settle();
  std::string failure;
  s->request_metrics(seconds(2), [&](std::optional<std::string> text, std::string_view why) {
    EXPECT_FALSE(text);
    failure = why;
  });
  advance(milliseconds(1900));
  EXPECT_EQ(failure, "");
  advance(milliseconds(200));
  EXPECT_EQ(failure, "timeout");
  std::string late;
  encode_frame(static_cast<std::uint8_t>(ControlType::MetricsResponse), encode_metrics_response({1, "x 1\n"}), late);
  raw_write(agent_end_, late);
  settle();
  EXPECT_TRUE(s->ready());
}

TEST_F(ControlSessionTest, PendingPullsFailWhenTheSessionCloses) {
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  raw_write(agent_end_, hello_frame(Role::Agent));
  settle();
  std::vector<std::string> failures;
  for (int i = 0; i < 10; ++i) {
    s->request_metrics(seconds(2), [&](std::optional<std::string>, std::string_view why) {
      failures.emplace_back(why);
    });
  }
  // At most 8 in flight: the rest are refused at once instead of queueing.
  EXPECT_EQ(failures, (std::vector<std::string>{"busy", "busy"}));
  agent_end_.close();
  settle();
  EXPECT_EQ(sidecar_closed_, CloseReason::PeerClosed);
  EXPECT_EQ(failures.size(), 10u);
  EXPECT_EQ(failures.back(), "disconnected");
  s->request_metrics(seconds(1), [&](std::optional<std::string>, std::string_view why) { failures.emplace_back(why); });
  EXPECT_EQ(failures.back(), "disconnected");
}

TEST_F(ControlSessionTest, ShutdownTellsThePeer) {
  auto a = make(Role::Agent, std::move(agent_end_), agent_metrics_);
  auto s = make(Role::Sidecar, std::move(sidecar_end_), sidecar_metrics_);
  settle();
  s->close(CloseReason::Shutdown, "the sidecar is shutting down", true);
  settle();
  EXPECT_EQ(sidecar_closed_, CloseReason::Shutdown);
  EXPECT_EQ(agent_closed_, CloseReason::Shutdown);
  EXPECT_EQ(agent_metrics_.disconnects[CloseReason::Shutdown]->Value(), 1);
}

}  // namespace
}  // namespace porthole::relay

// StreamRelay over real socket pairs, with time advanced by hand.
#include "porthole/relay/stream_relay.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "porthole/common/manual_time.hpp"
#include "raw_control_peer.hpp"

namespace porthole::relay {
namespace {

using std::chrono::seconds;

class StreamRelayTest : public ::testing::Test {
 protected:
  std::pair<Stream, Stream> pair() {
    boost::asio::local::stream_protocol::socket a(io_), b(io_);
    boost::asio::local::connect_pair(a, b);
    const boost::asio::generic::stream_protocol p(AF_UNIX, SOCK_STREAM);
    return {Stream(io_, p, a.release()), Stream(io_, p, b.release())};
  }
  void SetUp() override {
    auto [client, relay_a] = pair();
    auto [relay_b, server] = pair();
    client_ = std::move(client);
    server_ = std::move(server);
    relay_ = StreamRelay::create(std::move(relay_a), std::move(relay_b), time_, {4096, seconds(10)},
                                 [this](bool up, std::size_t n) { (up ? up_bytes_ : down_bytes_) += n; },
                                 [this](const RelayResult& r) { result_ = r; });
  }
  void settle() { porthole::testing::settle(io_); }
  // Reads what is there without blocking; sets eof/reset when the stream ended.
  std::string drain(Stream& s, bool& eof, bool& reset) {
    std::string out;
    std::array<char, 65536> buf{};
    s.non_blocking(true);
    for (;;) {
      boost::system::error_code ec;
      const auto n = s.read_some(boost::asio::buffer(buf), ec);
      if (ec == boost::asio::error::eof) eof = true;
      if (ec == boost::asio::error::connection_reset) reset = true;
      if (ec) break;
      out.append(buf.data(), n);
    }
    return out;
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  Stream client_{io_}, server_{io_};
  std::shared_ptr<StreamRelay> relay_;
  std::optional<RelayResult> result_;
  std::size_t up_bytes_ = 0, down_bytes_ = 0;
};

TEST_F(StreamRelayTest, CopiesBothWaysAndDeliversInitialBytesFirst) {
  relay_->start("HEADER:", "");
  boost::asio::write(client_, boost::asio::buffer(std::string("hello")));
  settle();
  bool eof = false, reset = false;
  EXPECT_EQ(drain(server_, eof, reset), "HEADER:hello");
  boost::asio::write(server_, boost::asio::buffer(std::string("world")));
  settle();
  EXPECT_EQ(drain(client_, eof, reset), "world");
  EXPECT_EQ(up_bytes_, 5u);  // the header is not the client's
  EXPECT_EQ(down_bytes_, 5u);
  EXPECT_FALSE(result_);
}

TEST_F(StreamRelayTest, HalfCloseIsPropagatedAndTheOtherWayKeepsFlowing) {
  relay_->start();
  boost::asio::write(client_, boost::asio::buffer(std::string("request")));
  client_.shutdown(Stream::shutdown_send);
  settle();
  bool eof = false, reset = false;
  EXPECT_EQ(drain(server_, eof, reset), "request");
  EXPECT_TRUE(eof);  // the server saw the FIN
  EXPECT_FALSE(result_);
  // ...and can still answer, at length, after it.
  const std::string reply(100000, 'r');
  server_.non_blocking(false);
  std::string got;
  boost::asio::async_write(server_, boost::asio::buffer(reply), [](auto, auto) {});
  bool ceof = false, creset = false;
  for (int i = 0; i < 100 && got.size() < reply.size(); ++i) {
    settle();
    got += drain(client_, ceof, creset);
  }
  EXPECT_EQ(got, reply);
  server_.shutdown(Stream::shutdown_send);
  settle();
  drain(client_, ceof, creset);
  EXPECT_TRUE(ceof);
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::Closed);
  EXPECT_EQ(result_->bytes_downstream, reply.size());
}

TEST_F(StreamRelayTest, APeerThatClosesBothWaysIsAnAbortAndResetsTheOtherSide) {
  // vsock and its Unix-socket emulation carry no RST: an abort arrives as a full close while
  // we could still write to that peer.
  relay_->start();
  server_.close();
  settle();
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::Reset);
  bool eof = false, reset = false;
  drain(client_, eof, reset);
  EXPECT_TRUE(eof || reset);  // the client is not left hanging
}

TEST_F(StreamRelayTest, AHalfCloseIsNotMistakenForAnAbort) {
  relay_->start();
  server_.shutdown(Stream::shutdown_send);
  settle();
  EXPECT_FALSE(result_);
  boost::asio::write(client_, boost::asio::buffer(std::string("still welcome")));
  settle();
  bool eof = false, reset = false;
  EXPECT_EQ(drain(server_, eof, reset), "still welcome");
}

TEST_F(StreamRelayTest, AnIdleConnectionIsAbortedAtTheIdleTimeout) {
  relay_->start();
  time_.advance(seconds(9));
  settle();
  EXPECT_FALSE(result_);
  boost::asio::write(client_, boost::asio::buffer(std::string("x")));  // activity restarts the clock
  settle();
  time_.advance(seconds(9));
  settle();
  EXPECT_FALSE(result_);
  time_.advance(seconds(2));
  settle();
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::IdleTimeout);
  bool eof = false, reset = false;
  drain(server_, eof, reset);
  EXPECT_TRUE(eof || reset);
}

TEST_F(StreamRelayTest, ASlowReaderStallsTheWriterInsteadOfGrowingMemory) {
  relay_->start();
  // The server never reads. The client writes until its socket buffer is full: the relay must
  // stop reading once the server's buffer is full, so the client is pushed back.
  client_.non_blocking(true);
  std::string chunk(65536, 'z');
  std::size_t written = 0;
  for (int i = 0; i < 2000; ++i) {
    boost::system::error_code ec;
    written += client_.write_some(boost::asio::buffer(chunk), ec);
    settle();
    if (ec == boost::asio::error::would_block) break;
  }
  // Kernel buffers on both hops hold it; the relay holds at most one 4 KiB buffer per direction.
  EXPECT_LT(written, 64u << 20);
  EXPECT_LE(up_bytes_, written);
  EXPECT_FALSE(result_);
}

}  // namespace
}  // namespace porthole::relay

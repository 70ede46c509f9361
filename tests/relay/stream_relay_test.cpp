// StreamRelay over real socket pairs (Unix and TCP), copying through buffers and splicing
// through pipes, with time advanced by hand.
#include "porthole/relay/stream_relay.hpp"

#include <sys/socket.h>

#include <optional>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "porthole/common/manual_time.hpp"
#include "raw_control_peer.hpp"

namespace porthole::relay {
namespace {

using std::chrono::seconds;

struct Mode {
  bool tcp;     // else a Unix socket pair (what vsock is emulated with)
  bool splice;  // else copy through buffers
};

std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  return std::string(info.param.tcp ? "Tcp" : "Unix") + (info.param.splice ? "Splice" : "Copy");
}

class StreamRelayTest : public ::testing::TestWithParam<Mode> {
 protected:
  std::pair<Stream, Stream> pair() {
    if (GetParam().tcp) {
      using boost::asio::ip::tcp;
      tcp::acceptor acceptor(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
      tcp::socket a(io_), b(io_);
      a.connect(acceptor.local_endpoint());
      acceptor.accept(b);
      const boost::asio::generic::stream_protocol p(AF_INET, SOCK_STREAM);
      return {Stream(io_, p, a.release()), Stream(io_, p, b.release())};
    }
    boost::asio::local::stream_protocol::socket a(io_), b(io_);
    boost::asio::local::connect_pair(a, b);
    const boost::asio::generic::stream_protocol p(AF_UNIX, SOCK_STREAM);
    return {Stream(io_, p, a.release()), Stream(io_, p, b.release())};
  }
  void SetUp() override { make_relay(PipePoolOptions{GetParam().splice ? 16u : 0u, 4, 4096}); }
  void make_relay(PipePoolOptions pool) {
    pipes_.emplace(registry_, "parent", "test", pool);
    auto [client, relay_a] = pair();
    auto [relay_b, server] = pair();
    client_ = std::move(client);
    server_ = std::move(server);
    relay_ = StreamRelay::create(std::move(relay_a), std::move(relay_b), time_, {4096, seconds(10), &*pipes_, nullptr},
                                 [this](bool up, std::size_t n) { (up ? up_bytes_ : down_bytes_) += n; },
                                 [this](const RelayResult& r) { result_ = r; });
  }
  double fallbacks(const std::string& reason) {
    for (const auto& f : registry_.Collect()) {
      if (f.name != "porthole_relay_splice_fallbacks_total") continue;
      for (const auto& m : f.metric) {
        for (const auto& l : m.label) {
          if (l.name == "reason" && l.value == reason) return m.counter.value;
        }
      }
    }
    return -1;
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
  prometheus::Registry registry_;
  std::optional<PipePool> pipes_;
  Stream client_{io_}, server_{io_};
  std::shared_ptr<StreamRelay> relay_;
  std::optional<RelayResult> result_;
  std::size_t up_bytes_ = 0, down_bytes_ = 0;
};

TEST_P(StreamRelayTest, CopiesBothWaysAndDeliversInitialBytesFirst) {
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

TEST_P(StreamRelayTest, HalfCloseIsPropagatedAndTheOtherWayKeepsFlowing) {
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

TEST_P(StreamRelayTest, APeerThatClosesBothWaysIsAnAbortAndResetsTheOtherSide) {
  // vsock and its Unix-socket emulation carry no RST: an abort arrives as a full close while
  // we could still write to that peer.
  relay_->start();
  server_.close();
  settle();
  if (GetParam().tcp) {
    // On TCP a close is a FIN, which is a half-close until a write draws a RST: the client sees
    // the FIN now, and the abort when it writes.
    bool eof = false, reset = false;
    drain(client_, eof, reset);
    EXPECT_TRUE(eof);
    return;
  }
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::Reset);
  bool eof = false, reset = false;
  drain(client_, eof, reset);
  EXPECT_TRUE(eof || reset);  // the client is not left hanging
}

TEST_P(StreamRelayTest, AHalfCloseIsNotMistakenForAnAbort) {
  relay_->start();
  server_.shutdown(Stream::shutdown_send);
  settle();
  EXPECT_FALSE(result_);
  boost::asio::write(client_, boost::asio::buffer(std::string("still welcome")));
  settle();
  bool eof = false, reset = false;
  EXPECT_EQ(drain(server_, eof, reset), "still welcome");
}

TEST_P(StreamRelayTest, AnIdleConnectionIsAbortedAtTheIdleTimeout) {
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

TEST_P(StreamRelayTest, ASlowReaderStallsTheWriterInsteadOfGrowingMemory) {
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

TEST_P(StreamRelayTest, MovesAMegabyteIntactAndHoldsNoPipeOnceDone) {
  relay_->start();
  std::string sent(1 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>((i * 131) >> 3);
  boost::asio::async_write(client_, boost::asio::buffer(sent), [](auto, auto) {});
  std::string got;
  bool eof = false, reset = false;
  for (int i = 0; i < 10000 && got.size() < sent.size(); ++i) {
    settle();
    got += drain(server_, eof, reset);
  }
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
  EXPECT_EQ(up_bytes_, sent.size());
  EXPECT_EQ(pipes_->in_use(), 0u);  // a pipe is held only while bytes are in flight
  EXPECT_LE(pipes_->idle(), 4u);    // and the cache is bounded
  EXPECT_EQ(fallbacks("unsupported"), 0);
}

class SpliceRelayTest : public StreamRelayTest {};

TEST_P(SpliceRelayTest, AnExhaustedPipePoolFallsBackToCopyingAndCountsIt) {
  make_relay(PipePoolOptions{1, 1, 4096});  // one pipe for two directions
  relay_->start();
  // Fill the server's side so the upstream direction holds its pipe, waiting for room.
  client_.non_blocking(true);
  std::string chunk(65536, 'u');
  for (int i = 0; i < 2000; ++i) {
    boost::system::error_code ec;
    client_.write_some(boost::asio::buffer(chunk), ec);
    settle();
    if (ec == boost::asio::error::would_block) break;
  }
  EXPECT_EQ(pipes_->in_use(), 1u);
  // The other direction still flows, through a buffer.
  boost::asio::write(server_, boost::asio::buffer(std::string("reply")));
  settle();
  bool eof = false, reset = false;
  EXPECT_EQ(drain(client_, eof, reset), "reply");
  EXPECT_GE(fallbacks("exhausted"), 1);
  EXPECT_FALSE(result_);
}

TEST_P(StreamRelayTest, AnAbortWithBytesInThePipeClosesThePipe) {
  relay_->start();
  client_.non_blocking(true);
  std::string chunk(65536, 'u');
  for (int i = 0; i < 2000; ++i) {
    boost::system::error_code ec;
    client_.write_some(boost::asio::buffer(chunk), ec);
    settle();
    if (ec == boost::asio::error::would_block) break;
  }
  relay_->abort();
  settle();
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::Aborted);
  EXPECT_EQ(pipes_->in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, StreamRelayTest,
                         ::testing::Values(Mode{false, false}, Mode{false, true}, Mode{true, false}, Mode{true, true}),
                         mode_name);
INSTANTIATE_TEST_SUITE_P(Modes, SpliceRelayTest, ::testing::Values(Mode{false, true}, Mode{true, true}), mode_name);

}  // namespace
}  // namespace porthole::relay

// StreamRelay over real socket pairs (Unix and TCP), copying through buffers and splicing
// through pipes, with time advanced by hand.
#include "porthole/relay/stream_relay.hpp"

#include <fcntl.h>
#include <poll.h>
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
#include "registry_value.hpp"

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

std::pair<Stream, Stream> socket_pair(boost::asio::io_context& io, bool tcp) {
  if (tcp) {
    using boost::asio::ip::tcp;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket a(io), b(io);
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
    const boost::asio::generic::stream_protocol p(AF_INET, SOCK_STREAM);
    return {Stream(io, p, a.release()), Stream(io, p, b.release())};
  }
  boost::asio::local::stream_protocol::socket a(io), b(io);
  boost::asio::local::connect_pair(a, b);
  const boost::asio::generic::stream_protocol p(AF_UNIX, SOCK_STREAM);
  return {Stream(io, p, a.release()), Stream(io, p, b.release())};
}

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

// Holds back everything up to the last newline it has seen, as an observer waiting for the end
// of a header would; counts what it was shown.
class LineObserver final : public StreamObserver {
 public:
  void on_bytes(bool upstream, std::string_view data, std::string& out) override {
    seen += data.size();
    auto& held = upstream ? held_up : held_down;
    held.append(data);
    const auto end = held.rfind('\n');
    if (end == std::string::npos) return;
    out.append(held, 0, end + 1);
    held.erase(0, end + 1);
  }
  void on_eof(bool upstream, std::string& out) override {
    auto& held = upstream ? held_up : held_down;
    out += held;
    held.clear();
  }
  void on_end(const RelayResult&) override { ended = true; }

  std::string held_up, held_down;
  std::size_t seen = 0;
  bool ended = false;
};

class StreamRelayTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override { make_relay(PipePoolOptions{GetParam().splice ? 16u : 0u, 4, 4096}); }
  void TearDown() override {
    // Whatever a test left running, its pipes go back when it ends.
    if (relay_) relay_->abort();
    settle();
    if (pipes_) {
      EXPECT_EQ(pipes_->in_use(), 0u);
    }
  }
  void make_relay(PipePoolOptions pool, std::size_t buffer_bytes = 4096,
                  std::shared_ptr<StreamObserver> observer = nullptr) {
    relay_.reset();
    pipes_.reset();
    pool.time = &time_;
    pipes_.emplace(registry_, "parent", "test", pool);
    auto [client, relay_a] = socket_pair(io_, GetParam().tcp);
    auto [relay_b, server] = socket_pair(io_, GetParam().tcp);
    client_ = std::move(client);
    server_ = std::move(server);
    relay_a_fd_ = relay_a.native_handle();
    relay_b_fd_ = relay_b.native_handle();
    relay_ = StreamRelay::create(std::move(relay_a), std::move(relay_b), time_,
                                 {buffer_bytes, seconds(10), &*pipes_, std::move(observer)},
                                 [this](bool up, std::size_t n) { (up ? up_bytes_ : down_bytes_) += n; },
                                 [this](const RelayResult& r) { result_ = r; });
  }
  double fallbacks(const std::string& reason) {
    return porthole::testing::registry_value(registry_, "porthole_relay_splice_fallbacks_total", "reason", reason);
  }
  void settle() { porthole::testing::settle(io_); }
  // The client writes until the relay stops taking bytes (the server reads none); returns how many.
  std::size_t fill_from_client() {
    client_.non_blocking(true);
    const std::string chunk(65536, 'u');
    std::size_t written = 0;
    for (int i = 0; i < 2000; ++i) {
      boost::system::error_code ec;
      written += client_.write_some(boost::asio::buffer(chunk), ec);
      settle();
      if (ec == boost::asio::error::would_block) break;
    }
    return written;
  }
  // Runs the relay until `s` has bytes to read (TCP on loopback moves them in softirq, a moment
  // after the syscall that let it); false after 5 s.
  bool wait_readable(Stream& s) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      settle();
      ::pollfd p{s.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 1) == 1) return true;
    }
    return false;
  }
  // Reads from `s` (running the relay between reads) until `want` bytes came, the stream ended
  // or 10 s passed.
  std::string read_until(Stream& s, std::size_t want) {
    std::string got;
    bool eof = false, reset = false;
    while (got.size() < want && !eof && !reset && wait_readable(s)) got += drain(s, eof, reset);
    return got;
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  prometheus::Registry registry_;
  std::optional<PipePool> pipes_;
  Stream client_{io_}, server_{io_};
  int relay_a_fd_ = -1;  // the relay's socket toward the client
  int relay_b_fd_ = -1;  // the relay's socket toward the server
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

TEST_P(StreamRelayTest, ASlowButSteadyReaderIsNotIdle) {
  // Large chunks in flight (a 1 MiB buffer or pipe) toward a server behind a small socket
  // buffer: each of the server's reads lets the relay write a little more of the same chunk.
  // Those partial writes are progress; only a connection where nothing moves is idle.
  make_relay(PipePoolOptions{GetParam().splice ? 16u : 0u, 4, 1 << 20}, 1 << 20);
  const int small = 4096;
  ::setsockopt(relay_b_fd_, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  const std::string sent(4 << 20, 's');
  relay_->start();
  boost::asio::async_write(client_, boost::asio::buffer(sent), [](auto, auto) {});
  ASSERT_TRUE(wait_readable(server_));
  std::string got;
  bool eof = false, reset = false;
  for (int step = 0; step < 5; ++step) {
    time_.advance(seconds(6));  // 30 s in all, three idle timeouts, never 6 s without progress
    settle();
    ASSERT_FALSE(result_) << "killed as idle at step " << step << " with " << got.size() << " bytes through";
    const auto before = got.size();
    got += drain(server_, eof, reset);
    ASSERT_GT(got.size(), before) << "the reader made no progress at step " << step;
    ASSERT_LT(got.size(), sent.size()) << "all through at once: the reader was not slow";
    ASSERT_TRUE(wait_readable(server_)) << "the relay wrote nothing more after step " << step;
  }
  const int large = 1 << 20;  // the rest at speed
  ::setsockopt(relay_b_fd_, SOL_SOCKET, SO_SNDBUF, &large, sizeof large);
  got += read_until(server_, sent.size() - got.size());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_FALSE(result_);
}

TEST_P(StreamRelayTest, ASlowReaderStallsTheWriterInsteadOfGrowingMemory) {
  relay_->start();
  // The server never reads. The client writes until its socket buffer is full: the relay must
  // stop reading once the server's buffer is full, so the client is pushed back.
  const auto written = fill_from_client();
  // Kernel buffers on both hops hold it; the relay holds at most one 4 KiB buffer per direction.
  EXPECT_LT(written, 64u << 20);
  EXPECT_LE(up_bytes_, written);
  EXPECT_LE(relay_->buffer_bytes_held(), 4096u);
  EXPECT_FALSE(result_);
}

TEST_P(StreamRelayTest, MovesAMegabyteIntactAndHoldsNoPipeOrBufferOnceDone) {
  relay_->start();
  std::string sent(1 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>((i * 131) >> 3);
  boost::asio::async_write(client_, boost::asio::buffer(sent), [](auto, auto) {});
  const auto got = read_until(server_, sent.size());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
  EXPECT_EQ(up_bytes_, sent.size());
  EXPECT_EQ(pipes_->in_use(), 0u);  // a pipe is held only while bytes are in flight
  EXPECT_LE(pipes_->idle(), 4u);    // and the cache is bounded
  EXPECT_EQ(relay_->buffer_bytes_held(), 0u);  // so is a buffer
  EXPECT_EQ(fallbacks("unsupported"), 0);
}

TEST_P(StreamRelayTest, HeldBackBytesOfAnObserverAreDeliveredBeforeTheHalfClose) {
  auto observer = std::make_shared<LineObserver>();
  make_relay(PipePoolOptions{GetParam().splice ? 16u : 0u, 4, 4096}, 4096, observer);
  relay_->start();
  boost::asio::write(client_, boost::asio::buffer(std::string("line one\nno newline at the end")));
  settle();
  bool eof = false, reset = false;
  EXPECT_EQ(drain(server_, eof, reset), "line one\n");
  client_.shutdown(Stream::shutdown_send);
  settle();
  EXPECT_EQ(drain(server_, eof, reset), "no newline at the end");
  EXPECT_TRUE(eof);
  // The same the other way, where the half-close then ends the relay.
  boost::asio::write(server_, boost::asio::buffer(std::string("partial")));
  server_.shutdown(Stream::shutdown_send);
  settle();
  EXPECT_EQ(drain(client_, eof, reset), "partial");
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::Closed);
  EXPECT_TRUE(observer->ended);
}

TEST_P(StreamRelayTest, ARelayWithAnObserverNeverSplices) {
  auto observer = std::make_shared<LineObserver>();
  make_relay(PipePoolOptions{16, 4, 4096}, 4096, observer);  // splice on, even in Copy modes
  relay_->start();
  std::string line(100000, 'o');
  line.back() = '\n';
  boost::asio::async_write(client_, boost::asio::buffer(line), [](auto, auto) {});
  EXPECT_EQ(read_until(server_, line.size()), line);
  EXPECT_EQ(observer->seen, line.size());  // every byte went past the observer: none was spliced
  EXPECT_EQ(pipes_->in_use(), 0u);
  EXPECT_EQ(fallbacks("exhausted") + fallbacks("unsupported") + fallbacks("pipe_failed"), 0);
}

class SpliceRelayTest : public StreamRelayTest {};

TEST_P(SpliceRelayTest, AnExhaustedPipePoolFallsBackToCopyingAndCountsEachCopiedRead) {
  make_relay(PipePoolOptions{1, 1, 4096});  // one pipe for two directions
  relay_->start();
  // Fill the server's side so the upstream direction holds its pipe, waiting for room.
  fill_from_client();
  EXPECT_EQ(pipes_->in_use(), 1u);
  // The other direction still flows, through a buffer: one read each time, counted once each
  // (not once per attempt to get a pipe, nor for wake-ups that found nothing to read).
  bool eof = false, reset = false;
  for (int i = 1; i <= 3; ++i) {
    boost::asio::write(server_, boost::asio::buffer(std::string("reply")));
    settle();
    EXPECT_EQ(drain(client_, eof, reset), "reply");
    EXPECT_EQ(fallbacks("exhausted"), i);
  }
  EXPECT_EQ(fallbacks("unsupported"), 0);
  EXPECT_EQ(fallbacks("pipe_failed"), 0);
  EXPECT_FALSE(result_);
}

TEST_P(SpliceRelayTest, ADirectionThatCopiedWhileThePoolWasExhaustedKeepsNoBufferOnceIdle) {
  make_relay(PipePoolOptions{1, 1, 4096});
  relay_->start();
  const auto up = fill_from_client();  // upstream holds the only pipe
  ASSERT_EQ(pipes_->in_use(), 1u);
  // Downstream copies through a buffer, and stalls: the client does not read yet (and a small
  // send buffer on the relay's side keeps TCP from taking it all in).
  const int small = 4096;
  ::setsockopt(relay_a_fd_, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  const std::string reply(1 << 20, 'd');
  boost::asio::async_write(server_, boost::asio::buffer(reply), [](auto, auto) {});
  settle();
  EXPECT_GT(relay_->buffer_bytes_held(), 0u);
  // The server drains upstream, which then has nothing more to read and returns its pipe...
  EXPECT_EQ(read_until(server_, up).size(), up);
  EXPECT_EQ(pipes_->in_use(), 0u);
  // ...so downstream, once the client reads, gets the pipe back and splices the rest.
  EXPECT_EQ(read_until(client_, reply.size()).size(), reply.size());
  EXPECT_EQ(pipes_->in_use(), 0u);
  EXPECT_EQ(relay_->buffer_bytes_held(), 0u) << "an idle connection costs no buffer";
  EXPECT_FALSE(result_);
}

TEST_P(SpliceRelayTest, AnAbortWithBytesInThePipeClosesThePipe) {
  relay_->start();
  fill_from_client();
  ASSERT_EQ(pipes_->in_use(), 1u);
  const auto idle = pipes_->idle();
  relay_->abort();
  settle();
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::Aborted);
  EXPECT_EQ(pipes_->in_use(), 0u);
  EXPECT_EQ(pipes_->idle(), idle);  // closed, not cached: its bytes belong to a dead connection
}

TEST_P(SpliceRelayTest, AReaderThatResetsWithBytesInThePipeClosesThePipe) {
  relay_->start();
  fill_from_client();
  ASSERT_EQ(pipes_->in_use(), 1u);
  const auto idle = pipes_->idle();
  const ::linger hard{1, 0};
  ::setsockopt(server_.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  server_.close();  // the reader goes away: the relay's next write fails
  settle();
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->end, RelayEnd::Reset);
  EXPECT_EQ(pipes_->in_use(), 0u);
  EXPECT_EQ(pipes_->idle(), idle);
  bool eof = false, reset = false;
  drain(client_, eof, reset);
  EXPECT_TRUE(reset || eof);
}

TEST_P(SpliceRelayTest, ASocketTheKernelCannotSpliceIntoIsServedByCopying) {
  // splice(2) refuses to write into a file opened for appending (EINVAL) while send(2) does not
  // mind: the socket toward the server stands in for one the kernel cannot splice into. The
  // bytes already in the pipe go on through a buffer, then the direction copies.
  ::fcntl(relay_b_fd_, F_SETFL, ::fcntl(relay_b_fd_, F_GETFL) | O_APPEND);
  relay_->start();
  std::string sent(300000, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7);
  boost::asio::async_write(client_, boost::asio::buffer(sent), [](auto, auto) {});
  const auto got = read_until(server_, sent.size());
  EXPECT_TRUE(got == sent);
  EXPECT_GE(fallbacks("unsupported"), 1);
  EXPECT_EQ(pipes_->in_use(), 0u);
  // The other way still splices.
  boost::asio::write(server_, boost::asio::buffer(std::string("back")));
  EXPECT_EQ(read_until(client_, 4), "back");
  EXPECT_FALSE(result_);
}

INSTANTIATE_TEST_SUITE_P(Modes, StreamRelayTest,
                         ::testing::Values(Mode{false, false}, Mode{false, true}, Mode{true, false}, Mode{true, true}),
                         mode_name);
INSTANTIATE_TEST_SUITE_P(Modes, SpliceRelayTest, ::testing::Values(Mode{false, true}, Mode{true, true}), mode_name);

// A relay can die without finishing: its io_context is destroyed with its handlers still queued
// (a process shutting down). Its pipes go back to the pool then, closed, and the pool may
// already be gone.
class StreamRelayLifetimeTest : public ::testing::Test {
 protected:
  // Starts a relay in `io` whose upstream holds a pipe full of bytes, waiting for the server.
  std::array<Stream, 2> start_stalled_relay(boost::asio::io_context& io, PipePool& pool) {
    auto [client, a] = socket_pair(io, false);
    auto [b, server] = socket_pair(io, false);
    StreamRelay::create(std::move(a), std::move(b), time_, {4096, seconds(10), &pool, nullptr}, nullptr, nullptr)
        ->start();
    client.non_blocking(true);
    const std::string chunk(65536, 'x');
    for (int i = 0; i < 2000; ++i) {
      boost::system::error_code ec;
      client.write_some(boost::asio::buffer(chunk), ec);
      porthole::testing::settle(io);
      if (ec == boost::asio::error::would_block) break;
    }
    return {std::move(client), std::move(server)};
  }

  ManualTimeSource time_;
  prometheus::Registry registry_;
};

TEST_F(StreamRelayLifetimeTest, ARelayDestroyedMidTransferReturnsItsPipesClosed) {
  PipePool pool(registry_, "parent", "test", {16, 4, 4096, &time_});
  std::size_t idle = 0;
  {
    boost::asio::io_context io;
    auto peers = start_stalled_relay(io, pool);
    ASSERT_EQ(pool.in_use(), 1u);
    idle = pool.idle();
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(porthole::testing::registry_value(registry_, "porthole_relay_splice_pipes", "state", "in_use"), 0);
  EXPECT_EQ(pool.idle(), idle);  // closed, not cached
}

TEST_F(StreamRelayLifetimeTest, APoolDestroyedBeforeItsRelaysIsNotTouchedByThem) {
  // The binaries destroy their io_context last, after the pools (and the metrics registry).
  std::optional<boost::asio::io_context> io(std::in_place);
  std::optional<PipePool> pool(std::in_place, registry_, "parent", "test", PipePoolOptions{16, 4, 4096, &time_});
  {
    auto peers = start_stalled_relay(*io, *pool);
    ASSERT_EQ(pool->in_use(), 1u);
    pool.reset();
  }
  io.reset();  // under ASan, a relay writing into the freed pool fails the test here
}

}  // namespace
}  // namespace porthole::relay

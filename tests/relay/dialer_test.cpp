// Dialer: a connect that neither completes nor fails is given up at the connect timeout, counted
// and retried after the backoff delay (time advanced by hand; nothing leaves the machine).
#include "porthole/relay/dialer.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/common/manual_time.hpp"
#include "raw_control_peer.hpp"
#include "registry_value.hpp"

namespace porthole::relay {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A TCP listener on loopback whose accept queue is full: the kernel drops every further SYN, so
// a connect to it stays pending — what a blackholed address looks like, without sending a packet
// off the machine.
class FullBacklogListener {
 public:
  FullBacklogListener() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 0);  // room for one connection that nobody accepts
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::connect(filler_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~FullBacklogListener() {
    ::close(filler_);
    ::close(listener_);
  }
  std::uint16_t port() const { return port_; }

 private:
  int listener_ = -1;
  int filler_ = -1;
  std::uint16_t port_ = 0;
};

double failed_attempts(prometheus::Registry& registry) {
  return porthole::testing::registry_value(registry, "porthole_dial_attempts_total", "result", "error");
}

TEST(DialerTest, AConnectThatNeverCompletesIsGivenUpAtTheConnectTimeoutAndRetried) {
  boost::asio::io_context io;
  ManualTimeSource time;
  prometheus::Registry registry;
  FullBacklogListener blackhole;
  Endpoint target;
  target.kind = TransportKind::Tcp;
  target.host = "127.0.0.1";
  target.port = blackhole.port();
  DialerOptions options{"test", target, {}, {milliseconds(100), seconds(1), 2.0}, seconds(2)};
  Dialer dialer(io.get_executor(), time, options, registry, "enclave", [] { return 0.0; }, logger("test"));
  bool connected = false;
  dialer.dial([&](Stream) { connected = true; });
  porthole::testing::settle(io);
  time.advance(milliseconds(1999));
  porthole::testing::settle(io);
  EXPECT_FALSE(connected);
  EXPECT_EQ(failed_attempts(registry), 0);  // still trying

  time.advance(milliseconds(1));
  porthole::testing::settle(io);
  EXPECT_FALSE(connected);
  EXPECT_EQ(failed_attempts(registry), 1);
  EXPECT_EQ(time.pending_timers(), 1u);  // the retry, after the backoff delay

  time.advance(milliseconds(100));  // the retry is another pending connect, given up in turn
  porthole::testing::settle(io);
  time.advance(seconds(2));
  porthole::testing::settle(io);
  EXPECT_EQ(failed_attempts(registry), 2);
  dialer.stop();
}

}  // namespace
}  // namespace porthole::relay

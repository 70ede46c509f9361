// SocketExchange against a server in the test itself (a non-blocking socket the test drives),
// one io_context stepped by hand, so the order of completions is the test's to choose.
#include "socket_exchange.hpp"

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

class SocketExchangeTest : public ::testing::Test {
 protected:
  SocketExchangeTest() : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    acceptor_.non_blocking(true);
    target_.endpoints = {acceptor_.local_endpoint()};
    request_.wire = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  }

  // Runs the io_context until `done()` holds (a deadline, not a sleep: fails after 5 s).
  template <class F>
  void pump(F done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out";
      io_.restart();
      io_.run_for(1ms);
    }
  }

  void accept() {
    pump([this] {
      boost::system::error_code ec;
      server_.emplace(acceptor_.accept(ec));
      if (ec) server_.reset();
      return server_.has_value();
    });
    server_->non_blocking(true);
  }

  // Reads one request head from the server side (pumping the client meanwhile).
  void read_request() {
    pump([this] {
      char buf[4096];
      boost::system::error_code ec;
      const auto n = server_->read_some(asio::buffer(buf), ec);
      received_.append(buf, ec ? 0 : n);
      const auto end = received_.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      received_.erase(0, end + 4);
      return true;
    });
  }

  void respond() {
    server_->non_blocking(false);
    asio::write(*server_, asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")));
    server_->non_blocking(true);
  }

  // One whole exchange, accepting a new connection first if `accept_first`.
  RequestOutcome exchange_one(SocketExchange& exchange, std::uint64_t index, bool accept_first) {
    std::optional<RequestOutcome> got;
    exchange.start(request_, index, [&](const RequestOutcome& o) { got = o; });
    if (accept_first) accept();
    read_request();
    respond();
    pump([&] { return got.has_value(); });
    return got.value_or(RequestOutcome{RequestError::Io, 0, 0, 0});
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  ExchangeTarget target_;
  PreparedRequest request_;
  std::optional<tcp::socket> server_;
  std::string received_;
};

TEST_F(SocketExchangeTest, ConnectTimeIsReportedOnlyForTheRequestThatOpenedTheConnection) {
  SocketExchange exchange(io_, target_, RequestStamper(1, 0, 1));
  const auto first = exchange_one(exchange, 0, true);
  EXPECT_EQ(first.error, RequestError::None);
  EXPECT_EQ(first.status, 200u);
  EXPECT_TRUE(first.connected);
  EXPECT_TRUE(first.written);
  EXPECT_GT(first.connect.count(), 0);
  const auto second = exchange_one(exchange, 1, false);
  EXPECT_EQ(second.status, 200u);
  EXPECT_FALSE(second.connected);  // keep-alive: nothing to connect
}

TEST_F(SocketExchangeTest, ACancelWinsOverASuccessAlreadyQueuedAndTheNextRequestReconnects) {
  SocketExchange exchange(io_, target_, RequestStamper(1, 0, 1));
  ASSERT_EQ(exchange_one(exchange, 0, true).status, 200u);

  // The second request goes out at once (a speculative write; its handler is queued), the server
  // answers before the client runs, and the client's read then completes at once too: its
  // success is queued when the timeout sweep cancels.
  std::optional<RequestOutcome> got;
  exchange.start(request_, 1, [&](const RequestOutcome& o) { got = o; });
  read_request();  // never runs the client: the request is already on the wire
  respond();
  io_.restart();
  ASSERT_EQ(io_.run_one(), 1u);  // the write's handler starts the read, which finds the response
  ASSERT_FALSE(got);
  exchange.cancel(RequestError::Timeout);
  pump([&] { return got.has_value(); });
  EXPECT_EQ(got->error, RequestError::Timeout);
  EXPECT_EQ(got->status, 0u);

  // The cancelled connection was closed: the next request opens a new one instead of failing
  // on the old descriptor.
  server_.reset();
  const auto third = exchange_one(exchange, 2, true);
  EXPECT_EQ(third.error, RequestError::None);
  EXPECT_EQ(third.status, 200u);
  EXPECT_TRUE(third.connected);
}

TEST_F(SocketExchangeTest, SendsEachRequestsTraceparent) {
  request_.wire = "GET / HTTP/1.1\r\ntraceparent: " + traceparent_placeholder() + "\r\n\r\n";
  request_.traceparent_at = request_.wire.find("00-");
  SocketExchange exchange(io_, target_, RequestStamper(0xabc, 4, 8));
  std::optional<RequestOutcome> got;
  exchange.start(request_, 9, [&](const RequestOutcome& o) { got = o; });
  accept();
  std::string head;
  pump([&] {
    char buf[4096];
    boost::system::error_code ec;
    const auto n = server_->read_some(asio::buffer(buf), ec);
    head.append(buf, ec ? 0 : n);
    return head.find("\r\n\r\n") != std::string::npos;
  });
  EXPECT_EQ(head, "GET / HTTP/1.1\r\ntraceparent: " + traceparent_value(0xabc, 4, 9) + "\r\n\r\n");
  respond();
  pump([&] { return got.has_value(); });
  EXPECT_EQ(got->bytes_sent, request_.wire.size());
}

}  // namespace
}  // namespace porthole::loadtest

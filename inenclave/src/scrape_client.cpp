#include "porthole/agent/scrape_client.hpp"

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace porthole::agent {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

class Fetch : public std::enable_shared_from_this<Fetch> {
 public:
  Fetch(boost::asio::any_io_executor executor, TimeSource& time, const ScrapeTargetConfig& target,
        std::uint64_t max_bytes, std::function<void(ScrapeResponse)> done)
      : socket_(executor), timer_(time.make_timer()), target_(target), done_(std::move(done)) {
    parser_.body_limit(max_bytes);
    parser_.header_limit(64 * 1024);
    request_.method(http::verb::get);
    request_.target(target.path);
    request_.version(11);
    const bool v6 = target.host.find(':') != std::string::npos;
    request_.set(http::field::host, (v6 ? "[" + target.host + "]" : target.host) + ":" + std::to_string(target.port));
    request_.set(http::field::user_agent, "porthole-agent");
    // The text format only: we parse nothing else (no protobuf, no OpenMetrics negotiation).
    request_.set(http::field::accept, "text/plain;version=0.0.4;q=1,*/*;q=0.1");
    request_.set(http::field::connection, "close");
  }

  void start() {
    auto self = shared_from_this();
    std::weak_ptr<Fetch> weak = self;
    timer_->arm(target_.timeout, [weak] {
      if (auto f = weak.lock()) {
        f->timed_out_ = true;
        boost::system::error_code ignored;
        f->socket_.close(ignored);  // aborts whatever is pending
      }
    });
    boost::system::error_code ec;
    const tcp::endpoint endpoint(boost::asio::ip::make_address(target_.host, ec), target_.port);
    if (ec) return finish("connect", "bad address " + target_.host);
    socket_.async_connect(endpoint, [self](const boost::system::error_code& e) { self->on_connect(e); });
  }

 private:
  void on_connect(const boost::system::error_code& ec) {
    if (ec) return fail("connect", ec);
    http::async_write(socket_, request_, [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
      if (e) return self->fail("connect", e);
      http::async_read(self->socket_, self->buffer_, self->parser_,
                       [self](const boost::system::error_code& e2, std::size_t) { self->on_read(e2); });
    });
  }

  void on_read(const boost::system::error_code& ec) {
    if (ec == http::error::body_limit) return fail("too_large", ec);
    if (ec) return fail("read", ec);
    auto& response = parser_.get();
    ScrapeResponse r;
    r.status = response.result_int();
    if (r.status != 200) {
      // Redirects included: a metrics endpoint that redirects is misconfigured, and following
      // one could lead the agent anywhere inside the enclave.
      r.failure = "http_status";
      r.detail = "HTTP status " + std::to_string(r.status);
    } else {
      r.body = std::move(response.body());
    }
    complete(std::move(r));
  }

  void fail(const char* reason, const boost::system::error_code& ec) {
    if (timed_out_) return finish("timeout", "no complete response within " + format_duration(target_.timeout));
    finish(reason, ec.message());
  }

  void finish(const char* reason, std::string detail) {
    ScrapeResponse r;
    r.failure = reason;
    r.detail = std::move(detail);
    complete(std::move(r));
  }

  void complete(ScrapeResponse r) {
    timer_->cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    // Always posted, so `done` never runs inside fetch_metrics() and callers may re-arm freely.
    boost::asio::post(socket_.get_executor(),
                      [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  tcp::socket socket_;
  std::unique_ptr<Timer> timer_;
  ScrapeTargetConfig target_;
  std::function<void(ScrapeResponse)> done_;
  http::request<http::empty_body> request_;
  http::response_parser<http::string_body> parser_;
  boost::beast::flat_buffer buffer_{8192};
  bool timed_out_ = false;
};

}  // namespace

void fetch_metrics(boost::asio::any_io_executor executor, TimeSource& time, const ScrapeTargetConfig& target,
                   std::uint64_t max_bytes, std::function<void(ScrapeResponse)> done) {
  std::make_shared<Fetch>(std::move(executor), time, target, max_bytes, std::move(done))->start();
}

}  // namespace porthole::agent

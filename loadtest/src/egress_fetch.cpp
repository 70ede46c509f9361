#include "egress_fetch.hpp"

#include <memory>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace porthole::loadtest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint64_t kMaxUpstreamBody = 64 * 1024 * 1024;

class EgressFetch : public std::enable_shared_from_this<EgressFetch> {
 public:
  EgressFetch(const asio::any_io_executor& executor, EgressRequest request, std::function<void(EgressResult)> done)
      : resolver_(executor), stream_(executor), request_(std::move(request)), done_(std::move(done)) {}

  void start() {
    // One deadline for the whole exchange: tcp_stream's expiry is a point in time.
    stream_.expires_after(request_.timeout);
    resolver_.async_resolve(request_.proxy_host, request_.proxy_port,
                            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                              if (ec) return self->fail("resolve proxy " + self->request_.proxy_host, ec);
                              self->stream_.async_connect(results, [self](beast::error_code ec, const tcp::endpoint&) {
                                if (ec) return self->fail("connect to proxy", ec);
                                self->send_connect();
                              });
                            });
  }

 private:
  void send_connect() {
    connect_.emplace(http::verb::connect, request_.target, 11);
    connect_->set(http::field::host, request_.target);
    http::async_write(stream_, *connect_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("send CONNECT", ec);
      // A CONNECT answer has no body: read only its header; the tunnel starts right after.
      self->connect_reply_.emplace();
      self->connect_reply_->skip(true);
      http::async_read_header(self->stream_, self->buffer_, *self->connect_reply_,
                              [self](beast::error_code ec, std::size_t) { self->on_connect_reply(ec); });
    });
  }

  void on_connect_reply(beast::error_code ec) {
    if (ec) return fail("read CONNECT reply", ec);
    const auto& head = connect_reply_->get();
    if (head.result_int() / 100 != 2) {
      EgressResult r;
      r.error = "HTTP/1.1 " + std::to_string(head.result_int()) + " " + std::string(head.reason());
      return finish(std::move(r));
    }
    get_.emplace(http::verb::get, request_.path, 11);
    get_->set(http::field::host, request_.target);
    get_->set(http::field::user_agent, "porthole-demo-workload");
    get_->keep_alive(false);
    http::async_write(stream_, *get_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("send GET through the tunnel", ec);
      self->reply_.emplace();
      self->reply_->body_limit(kMaxUpstreamBody);
      http::async_read(self->stream_, self->buffer_, *self->reply_, [self](beast::error_code ec, std::size_t) {
        if (ec) return self->fail("read the upstream reply", ec);
        EgressResult r;
        r.ok = true;
        r.status = self->reply_->get().result_int();
        r.bytes = self->reply_->get().body().size();
        self->finish(std::move(r));
      });
    });
  }

  void fail(const std::string& what, beast::error_code ec) {
    EgressResult r;
    r.error = what + ": " + (ec == beast::error::timeout ? std::string("timed out") : ec.message());
    finish(std::move(r));
  }

  void finish(EgressResult r) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (auto done = std::exchange(done_, nullptr)) done(std::move(r));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  EgressRequest request_;
  std::function<void(EgressResult)> done_;
  beast::flat_buffer buffer_;
  std::optional<http::request<http::empty_body>> connect_;
  std::optional<http::response_parser<http::empty_body>> connect_reply_;
  std::optional<http::request<http::empty_body>> get_;
  std::optional<http::response_parser<http::string_body>> reply_;
};

}  // namespace

void fetch_through_proxy(const asio::any_io_executor& executor, EgressRequest request,
                         std::function<void(EgressResult)> done) {
  std::make_shared<EgressFetch>(executor, std::move(request), std::move(done))->start();
}

}  // namespace porthole::loadtest

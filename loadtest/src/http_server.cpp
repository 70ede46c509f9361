#include "http_server.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "porthole/common/logging.hpp"

namespace porthole::loadtest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// /payload bodies are streamed from this block; 64 KiB keeps each write large and the RSS small.
const std::string& pattern() {
  static const std::string block(64 * 1024, 'x');
  return block;
}

}  // namespace

class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(tcp::socket socket, const ServerLimits& limits, RequestHandler& handler,
          std::shared_ptr<std::atomic<std::size_t>> active)
      : stream_(std::move(socket)), limits_(limits), handler_(handler), active_(std::move(active)) {
    ++*active_;
  }
  ~Session() { --*active_; }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_limit));
    parser_->body_limit(limits_.body_limit);
    stream_.expires_after(limits_.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return close();
    }
    started_ = std::chrono::steady_clock::now();
    if (ec) {
      // Malformed or over a limit: answer 400 once, then close.
      keep_alive_ = false;
      route_ = "other";
      return write({400, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n", {}, 0});
    }
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    route_ = handler_.route_of(request_);
    // A /payload delay or an egress fetch may take longer than the read timeout.
    stream_.expires_never();
    auto executor = stream_.get_executor();
    handler_.handle(request_, executor, [self = shared_from_this()](Response r) {
      asio::dispatch(self->stream_.get_executor(),
                     [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    });
  }

  void write(Response r) {
    status_ = r.status;
    if (r.generated == 0) {
      string_response_.emplace(static_cast<http::status>(r.status), 11);
      auto& res = *string_response_;
      set_headers(res, r);
      res.body() = std::move(r.body);
      res.prepare_payload();
      stream_.expires_after(limits_.request_timeout);
      http::async_write(stream_, res,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_written(ec); });
      return;
    }
    remaining_ = r.generated;
    head_response_.emplace(static_cast<http::status>(r.status), 11);
    set_headers(*head_response_, r);
    head_response_->content_length(r.generated);
    head_serializer_.emplace(*head_response_);
    stream_.expires_after(limits_.request_timeout);
    http::async_write_header(stream_, *head_serializer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_written(ec);
      self->write_generated();
    });
  }

  template <typename Message>
  void set_headers(Message& res, const Response& r) {
    res.set(http::field::server, "porthole-demo-workload");
    res.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(keep_alive_);
  }

  // Streams the generated body in pattern-sized writes; the timeout restarts on progress.
  void write_generated() {
    if (remaining_ == 0) return on_written({});
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, pattern().size()));
    stream_.expires_after(limits_.request_timeout);
    asio::async_write(stream_, asio::buffer(pattern().data(), n),
                      [self = shared_from_this()](beast::error_code ec, std::size_t written) {
                        if (ec) return self->on_written(ec);
                        self->remaining_ -= written;
                        self->write_generated();
                      });
  }

  void on_written(beast::error_code ec) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
    handler_.observe(route_, status_, took.count());
    string_response_.reset();
    head_serializer_.reset();
    head_response_.reset();
    if (ec || !keep_alive_) return close();
    read();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const ServerLimits& limits_;
  RequestHandler& handler_;
  std::shared_ptr<std::atomic<std::size_t>> active_;
  beast::flat_buffer buffer_{16 * 1024};
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  std::optional<http::response<http::string_body>> string_response_;
  std::optional<http::response<http::empty_body>> head_response_;
  std::optional<http::response_serializer<http::empty_body>> head_serializer_;
  std::uint64_t remaining_ = 0;
  std::string route_ = "other";
  unsigned status_ = 0;
  bool keep_alive_ = false;
  std::chrono::steady_clock::time_point started_;
};

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& listen, const ServerLimits& limits,
                       RequestHandler& handler)
    : io_(io), acceptor_(asio::make_strand(io)), limits_(limits), handler_(handler) {
  acceptor_.open(listen.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(listen);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void HttpServer::start() {
  asio::dispatch(acceptor_.get_executor(), [this] { accept_next(); });
}

void HttpServer::stop() {
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

void HttpServer::accept_next() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      logger("workload")->warn("accept failed: {}", ec.message());
    } else if (*active_ >= limits_.max_connections) {
      logger("workload")->warn("{} connections open (the maximum); refusing one", active_->load());
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), limits_, handler_, active_)->start();
    }
    accept_next();
  });
}

}  // namespace porthole::loadtest

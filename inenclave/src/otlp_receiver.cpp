#include "porthole/agent/otlp_receiver.hpp"

#include <optional>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "porthole/common/logging.hpp"
#include "porthole/relay/address.hpp"

namespace porthole::agent {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

class OtlpReceiver::Session : public std::enable_shared_from_this<OtlpReceiver::Session> {
  // Bytes read at once; also what a connection holds while it waits for a request, so the
  // receiver's buffers are bounded by telemetry.max_connections x 64 KiB.
  static constexpr std::size_t kReadChunk = 64 * 1024;

 public:
  Session(tcp::socket socket, OtlpReceiver& server) : stream_(std::move(socket)), server_(server), active_(server.active_) {
    ++*active_;
  }
  ~Session() { --*active_; }

  void start() { read(); }
  void close_if_idle() {
    if (reading_) {
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(server_.config_.max_request_bytes);
    stream_.expires_after(server_.config_.request_timeout);
    // Beast reads max(512, free capacity) bytes at a time: without room reserved, a 300 KiB
    // request took ~600 reads (measured with strace in bench/telemetry); with 64 KiB, five.
    buffer_.reserve(kReadChunk);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->reading_ = false;
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == boost::asio::error::operation_aborted ||
        ec == boost::asio::error::connection_reset) {
      return close();
    }
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      const auto& req = parser_->get();
      return respond(server_.ingest_.too_large(std::string(req.target()), std::string(req[http::field::content_type])));
    }
    if (ec) {
      // Not HTTP: answer once and close, like any server would.
      return respond({400, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n"});
    }
    auto req = parser_->release();
    keep_alive_ = req.keep_alive() && !server_.stopped_;
    OtlpHttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.content_type = std::string(req[http::field::content_type]);
    r.content_encoding = std::string(req[http::field::content_encoding]);
    r.body = std::move(req.body());
    respond(server_.ingest_.handle(std::move(r)));
  }

  void respond(OtlpHttpResponse r) {
    response_.emplace(static_cast<http::status>(r.status), 11);
    response_->set(http::field::server, "porthole-agent");
    response_->set(http::field::content_type, r.content_type);
    if (r.allow_post_header) response_->set(http::field::allow, "POST");
    response_->keep_alive(keep_alive_);
    response_->body() = std::move(r.body);
    response_->prepare_payload();
    stream_.expires_after(server_.config_.request_timeout);
    http::async_write(stream_, *response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || !self->keep_alive_) return self->close();
      self->response_.reset();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  OtlpReceiver& server_;
  std::shared_ptr<int> active_;
  beast::flat_buffer buffer_{kReadChunk};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  bool keep_alive_ = false;
  bool reading_ = false;
};

OtlpReceiver::OtlpReceiver(boost::asio::any_io_executor executor, const OtlpReceiverConfig& config, OtlpIngest& ingest)
    : executor_(executor), config_(config), ingest_(ingest), log_(logger("otlp")), acceptor_(executor), pause_(executor) {}

OtlpReceiver::~OtlpReceiver() { stop(); }

void OtlpReceiver::start() {
  std::string host;
  std::uint16_t port = 0;
  relay::split_host_port(config_.listen, host, port);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error("telemetry.otlp_listen: '" + config_.listen + "': the host must be a numeric IP address or localhost");
  tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(128, ec);
  if (ec) throw std::runtime_error("telemetry.otlp_listen: cannot listen on " + config_.listen + ": " + ec.message());
  log_->info("otlp: receiving OTLP/HTTP on http://{}:{}", local_endpoint().address().to_string(), local_endpoint().port());
  accept_next();
}

void OtlpReceiver::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  pause_.cancel();
  for (auto& weak : sessions_) {
    if (auto session = weak.lock()) session->close_if_idle();
  }
  sessions_.clear();
}

tcp::endpoint OtlpReceiver::local_endpoint() const { return acceptor_.local_endpoint(); }

void OtlpReceiver::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopped_ || ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      log_->warn("otlp: accept failed: {}; pausing for 100 ms", ec.message());
      pause_.expires_after(std::chrono::milliseconds(100));
      pause_.async_wait([this](const boost::system::error_code& e) {
        if (!e && !stopped_) accept_next();
      });
      return;
    }
    if (*active_ >= config_.max_connections) {
      // Closing at once tells the SDK to retry later; queued requests would only time out.
      log_->warn("otlp: {} connections open (telemetry.max_connections); refusing one", *active_);
    } else {
      auto session = std::make_shared<Session>(std::move(socket), *this);
      std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
      sessions_.push_back(session);
      session->start();
    }
    accept_next();
  });
}

}  // namespace porthole::agent

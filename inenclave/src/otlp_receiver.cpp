#include "porthole/agent/otlp_receiver.hpp"

#include <optional>
#include <stdexcept>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "porthole/common/logging.hpp"

namespace porthole::agent {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

class OtlpReceiver::Session : public relay::HttpSession, public std::enable_shared_from_this<OtlpReceiver::Session> {
  // Bytes read at once; also what a connection holds while it waits for a request, so the
  // receiver's buffers are bounded by telemetry.max_connections x 64 KiB.
  static constexpr std::size_t kReadChunk = 64 * 1024;

 public:
  Session(tcp::socket socket, OtlpReceiver& server, std::shared_ptr<int> active)
      : stream_(std::move(socket)), server_(server), active_(std::move(active)) {
    ++*active_;
  }
  ~Session() override { --*active_; }

  void start() { read(); }
  void close_if_idle() override {
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
    : config_(config),
      ingest_(ingest),
      log_(logger("otlp")),
      listener_(executor, log_, [this](tcp::socket socket, std::shared_ptr<int> active) {
                  auto session = std::make_shared<Session>(std::move(socket), *this, std::move(active));
                  session->start();
                  return session;
                }) {}

OtlpReceiver::~OtlpReceiver() { stop(); }

void OtlpReceiver::start() {
  listener_.start({config_.listen, "telemetry.otlp_listen", static_cast<std::size_t>(config_.max_connections),
                   "telemetry.max_connections"});
  log_->info("otlp: receiving OTLP/HTTP on http://{}:{}", local_endpoint().address().to_string(), local_endpoint().port());
}

void OtlpReceiver::stop() {
  stopped_ = true;
  listener_.stop();
}

}  // namespace porthole::agent

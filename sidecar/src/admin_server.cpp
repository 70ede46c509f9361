#include "porthole/sidecar/admin_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "porthole/common/logging.hpp"

namespace porthole::sidecar {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

class AdminServer::Session : public relay::HttpSession, public std::enable_shared_from_this<AdminServer::Session> {
 public:
  Session(tcp::socket socket, AdminServer& server, std::shared_ptr<int> active)
      : stream_(std::move(socket)), server_(server), active_(std::move(active)) {
    ++*active_;
  }
  ~Session() override { --*active_; }

  void start() { read(); }
  // Called at shutdown: a connection waiting for its next request is closed now.
  void close_if_idle() override {
    if (reading_) {
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(4 * 1024);
    stream_.expires_after(server_.config_.request_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->reading_ = false;
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == boost::asio::error::operation_aborted) {
      return close();
    }
    if (ec) {
      // Malformed or oversized request: answer 400 once, then close.
      server_.log_->debug("admin: bad request: {}", ec.message());
      keep_alive_ = false;
      return respond("other", {400, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n"});
    }
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive() && !server_.stopped_;
    head_ = req.method() == http::verb::head;
    std::string target(req.target());
    if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
    auto route = server_.routes_.find(target);
    const std::string path = route == server_.routes_.end() ? "other" : target;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return respond(path, {405, "text/plain; charset=utf-8", "only GET and HEAD are served\n"});
    }
    if (route == server_.routes_.end()) {
      return respond(path, {404, "text/plain; charset=utf-8", "not found; try /healthz, /readyz or /metrics\n"});
    }
    // The route may answer later (/metrics waits for the enclave): keep the session alive.
    route->second([self = shared_from_this(), path](AdminResponse r) { self->respond(path, std::move(r)); });
  }

  void respond(const std::string& path, AdminResponse r) {
    server_.count(path, r.status);
    response_.emplace(static_cast<http::status>(r.status), 11);
    response_->set(http::field::server, "porthole-sidecar");
    response_->set(http::field::content_type, r.content_type);
    response_->keep_alive(keep_alive_);
    response_->body() = std::move(r.body);
    response_->prepare_payload();
    if (head_) response_->body().clear();
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
  AdminServer& server_;
  std::shared_ptr<int> active_;
  beast::flat_buffer buffer_{8 * 1024};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  bool keep_alive_ = false;
  bool head_ = false;
  bool reading_ = false;
};

AdminServer::AdminServer(boost::asio::any_io_executor executor, const AdminConfig& config,
                         prometheus::Registry& registry)
    : config_(config),
      log_(logger("admin")),
      requests_(prometheus::BuildCounter()
                    .Name("porthole_admin_requests_total")
                    .Help("Admin HTTP requests by path and status code.")
                    .Labels({{"side", "parent"}})
                    .Register(registry)),
      listener_(
          executor, log_,
          [this](tcp::socket socket, std::shared_ptr<int> active) {
            auto session = std::make_shared<Session>(std::move(socket), *this, std::move(active));
            session->start();
            return session;
          },
          [this] { count("refused", 503); }) {
  requests_.Add({{"path", "other"}, {"code", "404"}});
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::add_route(const std::string& path, Route route) {
  requests_.Add({{"path", path}, {"code", "200"}});
  routes_[path] = std::move(route);
}

void AdminServer::start() {
  listener_.start({config_.listen, "admin.listen", static_cast<std::size_t>(config_.max_connections),
                   "admin.max_connections"});
  log_->info("admin: listening on http://{}:{}", local_endpoint().address().to_string(), local_endpoint().port());
}

void AdminServer::stop() {
  stopped_ = true;
  listener_.stop();
}

void AdminServer::count(const std::string& path, unsigned status) {
  requests_.Add({{"path", path}, {"code", std::to_string(status)}}).Increment();
}

}  // namespace porthole::sidecar

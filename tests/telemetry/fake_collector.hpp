// A scripted OTLP/HTTP collector for tests: a Beast HTTP/1.1 server on 127.0.0.1 (port 0)
// that records every request and answers with the next scripted response (200 when the
// script is empty). Runs on the test's io_context, so tests drive it with run_one_for().
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace porthole::telemetry::testing {

struct ScriptedResponse {
  unsigned status = 200;
  std::string body{};
  std::map<std::string, std::string> headers{};
  bool close_after = false;  // close the connection after answering, without saying so
  bool hang = false;         // never answer (the exporter's timeout must fire)
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body{};
};

class FakeCollector {
 public:
  explicit FakeCollector(boost::asio::io_context& io) : acceptor_(io) {
    namespace ip = boost::asio::ip;
    const ip::tcp::endpoint at(ip::make_address("127.0.0.1"), 0);
    acceptor_.open(at.protocol());
    acceptor_.set_option(ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind(at);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
  }
  ~FakeCollector() { stop(); }

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  void script(ScriptedResponse r) { state_->script.push_back(std::move(r)); }
  const std::vector<ReceivedRequest>& requests() const { return state_->requests; }
  std::size_t connections() const { return state_->connections; }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& weak : state_->sockets) {
      if (auto s = weak.lock()) s->close(ignored);
    }
    state_->hung.clear();
  }

 private:
  struct State {
    std::deque<ScriptedResponse> script;
    std::vector<ReceivedRequest> requests;
    std::size_t connections = 0;
    std::vector<std::weak_ptr<boost::asio::ip::tcp::socket>> sockets;
    std::vector<std::shared_ptr<void>> hung;  // sessions that never answer stay open until stop()
  };
  struct Session {
    std::shared_ptr<boost::asio::ip::tcp::socket> socket;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> request;
    boost::beast::http::response<boost::beast::http::string_body> response;
  };

  void accept() {
    acceptor_.async_accept([this, state = state_](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      ++state->connections;
      auto session = std::make_shared<Session>();
      session->socket = std::make_shared<boost::asio::ip::tcp::socket>(std::move(s));
      state->sockets.push_back(session->socket);
      read(state, session);
      accept();
    });
  }

  static void read(std::shared_ptr<State> state, std::shared_ptr<Session> session) {
    namespace http = boost::beast::http;
    session->request = {};
    http::async_read(*session->socket, session->buffer, session->request,
                     [state, session](boost::system::error_code ec, std::size_t) {
                       if (ec) return;
                       ReceivedRequest r;
                       r.method = std::string(session->request.method_string());
                       r.target = std::string(session->request.target());
                       for (const auto& field : session->request) {
                         std::string name(field.name_string());
                         for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                         r.headers[name] = std::string(field.value());
                       }
                       r.body = session->request.body();
                       state->requests.push_back(std::move(r));
                       ScriptedResponse script;
                       if (!state->script.empty()) {
                         script = std::move(state->script.front());
                         state->script.pop_front();
                       }
                       if (script.hang) {  // keep the socket open, never answer
                         state->hung.push_back(session);
                         return;
                       }
                       respond(state, session, std::move(script));
                     });
  }

  static void respond(std::shared_ptr<State> state, std::shared_ptr<Session> session, ScriptedResponse script) {
    namespace http = boost::beast::http;
    session->response = {};
    session->response.version(11);
    session->response.result(script.status);
    for (const auto& [k, v] : script.headers) session->response.set(k, v);
    session->response.body() = script.body;
    session->response.keep_alive(true);
    session->response.prepare_payload();
    http::async_write(*session->socket, session->response,
                      [state, session, close = script.close_after](boost::system::error_code ec, std::size_t) {
                        if (ec) return;
                        if (close) {
                          boost::system::error_code ignored;
                          session->socket->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
                          session->socket->close(ignored);
                          return;
                        }
                        read(state, session);
                      });
  }

  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace porthole::telemetry::testing

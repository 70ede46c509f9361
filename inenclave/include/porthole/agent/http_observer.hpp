// HTTP/1.1 server spans and RED metrics at ingress, recorded inside the enclave: for a route
// marked `protocol: http1`, the agent parses request and response heads as the bytes pass
// through the relay (Beast's parser; bodies are counted past, never kept), records one SERVER
// span per request (method, route template, status, duration — never bodies, queries or
// headers), and rewrites the request's `traceparent` so the workload's own spans become children
// of it (the client's traceparent, if valid, becomes the span's parent; tracestate passes as is).
//
// Observation never breaks traffic: anything it cannot follow (malformed HTTP, a head larger than
// its limit, too many pipelined requests, a protocol upgrade or CONNECT tunnel, a response nobody
// asked for) switches the connection to plain relaying, counted by reason. Held-back bytes are
// only an incomplete request or response head, at most `max_head_bytes`.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "porthole/agent/http_metrics.hpp"
#include "porthole/common/time.hpp"
#include "porthole/relay/stream_relay.hpp"
#include "porthole/telemetry/tracer.hpp"

namespace porthole::agent {

// Route templates, e.g. "/users/{id}/orders" ({x} = one path segment) or "/static/*" (a final
// `*` matches the rest). The first that matches a request's path is its `http.route`.
class RouteTemplates {
 public:
  RouteTemplates() = default;
  explicit RouteTemplates(std::vector<std::string> templates);
  // "" when none matches.
  const std::string& match(std::string_view path) const;
  // "" when `t` is usable, else why not.
  static std::string validate(std::string_view t);

 private:
  std::vector<std::string> templates_;
};

struct HttpObserverOptions {
  std::size_t max_head_bytes = 64 * 1024;  // request or response head
  std::size_t max_pipelined = 32;          // requests waiting for their responses
};

class HttpObserver final : public relay::StreamObserver {
 public:
  HttpObserver(telemetry::Tracer& tracer, const RouteTemplates& routes, HttpMetrics::Route& metrics,
               TimeSource& time, HttpObserverOptions options = {});
  ~HttpObserver() override;

  void on_bytes(bool upstream, std::string_view data, std::string& out) override;
  // A direction ended with an incomplete head held back: the other end still gets those bytes
  // (the observer never changes what a peer that half-closes has sent).
  void on_eof(bool upstream, std::string& out) override;
  void on_end(const relay::RelayResult& result) override;

  bool observing() const { return !passthrough_; }

 private:
  class RequestParser;
  class ResponseParser;
  struct Pending;

  void on_request_bytes(std::string_view data, std::string& out);
  void on_response_bytes(std::string_view data, std::string& out);
  std::string begin_request(std::string_view head);  // the rewritten head; starts the span
  void request_done();
  void response_head_done();
  void response_done();
  void give_up(HttpUnobserved reason);
  void finish_pending(int status, std::string_view error_type);

  telemetry::Tracer& tracer_;
  const RouteTemplates& routes_;
  HttpMetrics::Route& metrics_;
  TimeSource& time_;
  HttpObserverOptions options_;
  bool passthrough_ = false;
  std::string request_in_;   // bytes not yet parsed (an incomplete head)
  std::string response_in_;
  std::unique_ptr<RequestParser> request_;
  std::unique_ptr<ResponseParser> response_;
  bool request_head_sent_ = false;
  bool response_head_seen_ = false;
  std::deque<Pending> pending_;  // requests whose responses have not ended, oldest first
};

}  // namespace porthole::agent

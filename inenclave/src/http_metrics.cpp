#include "porthole/agent/http_metrics.hpp"

#include <array>

namespace porthole::agent {

std::string_view to_string(HttpUnobserved r) {
  switch (r) {
    case HttpUnobserved::ParseError: return "parse_error";
    case HttpUnobserved::HeadTooLarge: return "head_too_large";
    case HttpUnobserved::PipelineLimit: return "pipeline_limit";
    case HttpUnobserved::Upgrade: return "upgrade";
    case HttpUnobserved::UnmatchedResponse: return "unmatched_response";
  }
  return "unknown";
}

std::string_view method_label(std::string_view method) {
  static constexpr std::array<std::string_view, 9> known{"GET",     "HEAD",  "POST",  "PUT",  "DELETE",
                                                         "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (auto k : known) {
    if (k == method) return k;
  }
  return "_OTHER";
}

namespace {

std::string status_class(int status) {
  if (status < 100 || status > 599) return "none";
  return std::to_string(status / 100) + "xx";
}

const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return b;
}

}  // namespace

HttpMetrics::HttpMetrics(prometheus::Registry& r)
    : requests_(prometheus::BuildCounter()
                    .Name("porthole_http_requests_total")
                    .Help("HTTP requests through ingress routes with protocol http1, by listener, method and "
                          "status class (none: the connection ended before the response).")
                    .Labels({{"side", "enclave"}})
                    .Register(r)),
      duration_(prometheus::BuildHistogram()
                    .Name("porthole_http_request_duration_seconds")
                    .Help("From a request's head to the end of its response, as the agent saw them pass.")
                    .Labels({{"side", "enclave"}})
                    .Register(r)),
      unobserved_(prometheus::BuildCounter()
                      .Name("porthole_http_unobserved_connections_total")
                      .Help("HTTP ingress connections the agent stopped parsing (relayed as plain bytes from "
                            "then on), by reason.")
                      .Labels({{"side", "enclave"}})
                      .Register(r)) {}

HttpMetrics::Route& HttpMetrics::route(const std::string& listener) {
  auto& slot = routes_[listener];
  if (!slot) slot = std::make_unique<Route>(*this, listener);
  return *slot;
}

HttpMetrics::Route::Route(HttpMetrics& m, const std::string& listener)
    : m_(m), listener_(listener), duration_(m.duration_.Add({{"listener", listener}}, duration_buckets())) {
  // The common series exist from the start, so rate() and alerts see zeros rather than gaps.
  for (auto method : {"GET", "POST"}) {
    for (auto cls : {"2xx", "4xx", "5xx"}) {
      requests_[std::string(method) + "/" + cls] =
          &m_.requests_.Add({{"listener", listener_}, {"method", method}, {"status_class", cls}});
    }
  }
  for (auto r : {HttpUnobserved::ParseError, HttpUnobserved::HeadTooLarge, HttpUnobserved::PipelineLimit,
                 HttpUnobserved::Upgrade, HttpUnobserved::UnmatchedResponse}) {
    m_.unobserved_.Add({{"listener", listener_}, {"reason", std::string(to_string(r))}});
  }
}

void HttpMetrics::Route::request_done(std::string_view method, int status, double seconds) {
  const auto m = method_label(method);
  const auto cls = status_class(status);
  std::string key = std::string(m) + "/" + cls;
  auto it = requests_.find(key);
  if (it == requests_.end()) {
    it = requests_
             .emplace(key, &m_.requests_.Add({{"listener", listener_}, {"method", std::string(m)}, {"status_class", cls}}))
             .first;
  }
  it->second->Increment();
  duration_.Observe(seconds);
}

void HttpMetrics::Route::unobserved(HttpUnobserved reason) {
  m_.unobserved_.Add({{"listener", listener_}, {"reason", std::string(to_string(reason))}}).Increment();
}

}  // namespace porthole::agent

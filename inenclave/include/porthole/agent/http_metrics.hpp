// RED metrics of HTTP ingress routes (protocol: http1), recorded in the enclave: requests by
// method and status class, their duration, and connections the agent stopped observing. Labels
// are bounded: the listener (from config), a fixed set of methods, five status classes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace porthole::agent {

enum class HttpUnobserved { ParseError, HeadTooLarge, PipelineLimit, Upgrade, UnmatchedResponse };
std::string_view to_string(HttpUnobserved r);

// The method as a label: the standard ones, else "_OTHER" (OpenTelemetry's convention).
std::string_view method_label(std::string_view method);

class HttpMetrics {
 public:
  class Route {
   public:
    Route(HttpMetrics& m, const std::string& listener);
    // status 0: the connection ended before the response did (status_class "none").
    void request_done(std::string_view method, int status, double seconds);
    void unobserved(HttpUnobserved reason);

   private:
    HttpMetrics& m_;
    std::string listener_;
    std::map<std::string, prometheus::Counter*, std::less<>> requests_;  // method/class -> counter
    prometheus::Histogram& duration_;
  };

  explicit HttpMetrics(prometheus::Registry& registry);
  Route& route(const std::string& listener);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& unobserved_;
  std::map<std::string, std::unique_ptr<Route>> routes_;
};

}  // namespace porthole::agent

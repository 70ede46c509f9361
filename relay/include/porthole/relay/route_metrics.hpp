// Golden signals of the data path, per side, path (ingress / egress) and route (a listener
// name, an allow rule, "proxy", ...): connections opened / closed / active, bytes each way,
// connection duration, set-up time, errors by reason. Routes come from configuration, so the
// label set is bounded; their series exist from start.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/stream_relay.hpp"

namespace porthole::relay {

enum class RelayError { Refused, Timeout, Reset, Denied, Limit, Protocol, DnsFailed, Unreachable };
std::string_view to_string(RelayError e);

class RouteMetrics {
 public:
  struct Route {
    prometheus::Counter* opened;
    prometheus::Counter* closed;
    prometheus::Gauge* active;
    prometheus::Counter* bytes_upstream;
    prometheus::Counter* bytes_downstream;
    prometheus::Histogram* duration;
    prometheus::Histogram* setup;
    std::map<RelayError, prometheus::Counter*> errors;
    void error(RelayError e) { errors.at(e)->Increment(); }
  };

  RouteMetrics(prometheus::Registry& registry, std::string side, std::string path);
  // The series of one route, created on first use.
  Route& route(const std::string& name);

 private:
  std::string path_;
  prometheus::Family<prometheus::Counter>& opened_;
  prometheus::Family<prometheus::Counter>& closed_;
  prometheus::Family<prometheus::Gauge>& active_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& setup_;
  prometheus::Family<prometheus::Counter>& errors_;
  std::map<std::string, std::unique_ptr<Route>> routes_;
};

// One relayed connection's bookkeeping: counts it open, its bytes as they move, and its close.
class TrackedConnection {
 public:
  TrackedConnection(RouteMetrics::Route& route, TimeSource& time);
  ~TrackedConnection();
  void set_up_done();  // the stream to the far side is established
  StreamRelay::Progress progress();
  // Bytes the relay delivers from a header's leftovers rather than reads itself.
  void count_bytes(bool upstream, std::size_t n) { progress()(upstream, n); }
  void count_end(const RelayResult& result);

 private:
  RouteMetrics::Route& route_;
  TimeSource& time_;
  MonoTime opened_;
};

}  // namespace porthole::relay

#include "porthole/relay/route_metrics.hpp"

namespace porthole::relay {
namespace {

constexpr RelayError kErrors[] = {RelayError::Refused, RelayError::Timeout,   RelayError::Reset,
                                  RelayError::Denied,  RelayError::Limit,     RelayError::Protocol,
                                  RelayError::DnsFailed, RelayError::Unreachable};

prometheus::Histogram::BucketBoundaries duration_buckets() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600};
}
prometheus::Histogram::BucketBoundaries setup_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
}

}  // namespace

std::string_view to_string(RelayError e) {
  switch (e) {
    case RelayError::Refused: return "refused";
    case RelayError::Timeout: return "timeout";
    case RelayError::Reset: return "reset";
    case RelayError::Denied: return "denied";
    case RelayError::Limit: return "limit";
    case RelayError::Protocol: return "protocol";
    case RelayError::DnsFailed: return "dns_failed";
    case RelayError::Unreachable: return "unreachable";
  }
  return "unknown";
}

RouteMetrics::RouteMetrics(prometheus::Registry& r, std::string side, std::string path)
    : path_(std::move(path)),
      opened_(prometheus::BuildCounter()
                  .Name("porthole_relay_connections_opened_total")
                  .Help("Relayed connections opened, by path and route.")
                  .Labels({{"side", side}})
                  .Register(r)),
      closed_(prometheus::BuildCounter()
                  .Name("porthole_relay_connections_closed_total")
                  .Help("Relayed connections closed, by path and route.")
                  .Labels({{"side", side}})
                  .Register(r)),
      active_(prometheus::BuildGauge()
                  .Name("porthole_relay_connections_active")
                  .Help("Relayed connections open now.")
                  .Labels({{"side", side}})
                  .Register(r)),
      bytes_(prometheus::BuildCounter()
                 .Name("porthole_relay_bytes_total")
                 .Help("Bytes relayed; upstream = from the side that opened the connection.")
                 .Labels({{"side", side}})
                 .Register(r)),
      duration_(prometheus::BuildHistogram()
                    .Name("porthole_relay_connection_duration_seconds")
                    .Help("Lifetime of relayed connections.")
                    .Labels({{"side", side}})
                    .Register(r)),
      setup_(prometheus::BuildHistogram()
                 .Name("porthole_relay_setup_duration_seconds")
                 .Help("Time from accepting a connection to having its far side connected.")
                 .Labels({{"side", side}})
                 .Register(r)),
      errors_(prometheus::BuildCounter()
                  .Name("porthole_relay_errors_total")
                  .Help("Relayed connections that failed, by reason.")
                  .Labels({{"side", side}})
                  .Register(r)) {}

RouteMetrics::Route& RouteMetrics::route(const std::string& name) {
  auto& slot = routes_[name];
  if (slot) return *slot;
  const prometheus::Labels l{{"path", path_}, {"route", name}};
  auto with = [&l](const char* k, const char* v) {
    auto out = l;
    out[k] = v;
    return out;
  };
  slot = std::make_unique<Route>(Route{&opened_.Add(l), &closed_.Add(l), &active_.Add(l),
                                       &bytes_.Add(with("direction", "upstream")),
                                       &bytes_.Add(with("direction", "downstream")),
                                       &duration_.Add(l, duration_buckets()), &setup_.Add(l, setup_buckets()), {}});
  for (auto e : kErrors) {
    auto labels = l;
    labels["reason"] = std::string(to_string(e));
    slot->errors[e] = &errors_.Add(labels);
  }
  return *slot;
}

TrackedConnection::TrackedConnection(RouteMetrics::Route& route, TimeSource& time)
    : route_(route), time_(time), opened_(time.now()) {
  route_.opened->Increment();
  route_.active->Increment();
}

TrackedConnection::~TrackedConnection() {
  route_.active->Decrement();
  route_.closed->Increment();
  route_.duration->Observe(std::chrono::duration<double>(time_.now() - opened_).count());
}

void TrackedConnection::set_up_done() {
  route_.setup->Observe(std::chrono::duration<double>(time_.now() - opened_).count());
}

StreamRelay::Progress TrackedConnection::progress() {
  auto* up = route_.bytes_upstream;
  auto* down = route_.bytes_downstream;
  return [up, down](bool upstream, std::size_t n) { (upstream ? up : down)->Increment(static_cast<double>(n)); };
}

void TrackedConnection::count_end(const RelayResult& result) {
  if (result.end == RelayEnd::Reset) route_.error(RelayError::Reset);
  if (result.end == RelayEnd::IdleTimeout) route_.error(RelayError::Timeout);
}

}  // namespace porthole::relay

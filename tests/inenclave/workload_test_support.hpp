// Helpers for the workload scraper and supervisor tests: running an io_context until something
// happens (with a wall-clock deadline, never a sleep), and reading metric values.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <prometheus/registry.h>

namespace porthole::testing {

// Runs handlers until `done()` or `timeout` of wall time; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The value of the series of `name` whose labels include all of `labels`; NaN when none.
inline double metric(const prometheus::Registry& registry, const std::string& name,
                     const prometheus::Labels& labels = {}) {
  for (const auto& f : registry.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      std::size_t matched = 0;
      for (const auto& l : m.label) {
        auto it = labels.find(l.name);
        if (it != labels.end() && it->second == l.value) ++matched;
      }
      if (matched != labels.size()) continue;
      if (f.type == prometheus::MetricType::Counter) return m.counter.value;
      return m.gauge.value;
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace porthole::testing

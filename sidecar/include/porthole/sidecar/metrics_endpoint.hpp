// What /metrics serves: the sidecar's own registry plus the enclave agent's registry, pulled
// through the control channel at scrape time (with a timeout), falling back to the last
// snapshot when the agent does not answer. The relayed text is parsed, never passed through:
// the enclave's series gain side="enclave" and enclave="<name>", lose timestamps, and cannot
// collide with or corrupt the sidecar's own exposition.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/sidecar/control_server.hpp"

namespace porthole::sidecar {

class MetricsEndpoint {
 public:
  // `registry` holds the sidecar's metrics (this class adds its own there); `extra` are more
  // collectables served alongside (process metrics).
  MetricsEndpoint(ControlServer& control, TimeSource& time, prometheus::Registry& registry,
                  std::vector<const prometheus::Collectable*> extra, Duration scrape_timeout);

  // Calls `done` with a complete Prometheus text exposition (possibly from inside this call).
  void render(std::function<void(std::string)> done);

 private:
  struct Snapshot {
    std::vector<prometheus::MetricFamily> families;
    std::string enclave;
    MonoTime taken;
  };
  void finish(std::optional<std::string> text, std::string_view failure, MonoTime started,
              const std::function<void(std::string)>& done);
  void set_enclave_label(const std::string& enclave);
  std::vector<prometheus::MetricFamily> collect_own() const;

  ControlServer& control_;
  TimeSource& time_;
  prometheus::Registry& registry_;
  std::vector<const prometheus::Collectable*> extra_;
  Duration scrape_timeout_;
  std::shared_ptr<spdlog::logger> log_;

  prometheus::Family<prometheus::Gauge>& up_family_;
  prometheus::Family<prometheus::Gauge>& age_family_;
  prometheus::Family<prometheus::Counter>& pulls_family_;
  prometheus::Histogram& pull_duration_;
  prometheus::Family<prometheus::Counter>& dropped_family_;
  prometheus::Counter& invalid_lines_;
  prometheus::Counter& duplicate_series_;
  prometheus::Counter& type_conflicts_;
  prometheus::Gauge* up_ = nullptr;
  prometheus::Gauge* age_ = nullptr;
  std::string labelled_enclave_;

  std::optional<Snapshot> snapshot_;
};

}  // namespace porthole::sidecar

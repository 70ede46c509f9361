#include "porthole/sidecar/metrics_endpoint.hpp"

#include <unordered_map>

#include <prometheus/text_serializer.h>

#include "porthole/common/logging.hpp"
#include "porthole/telemetry/prom_text.hpp"

namespace porthole::sidecar {
namespace {

const prometheus::Labels kParent{{"side", "parent"}};
constexpr const char* kPullResults[] = {"ok", "timeout", "disconnected", "error"};
constexpr const char* kUnknownEnclave = "unknown";

}  // namespace

MetricsEndpoint::MetricsEndpoint(ControlServer& control, TimeSource& time, prometheus::Registry& registry,
                                 std::vector<const prometheus::Collectable*> extra, Duration scrape_timeout)
    : control_(control),
      time_(time),
      registry_(registry),
      extra_(std::move(extra)),
      scrape_timeout_(scrape_timeout),
      log_(logger("metrics")),
      up_family_(prometheus::BuildGauge()
                     .Name("porthole_enclave_up")
                     .Help("1 if the last /metrics scrape got a live answer from the enclave agent, else 0.")
                     .Labels(kParent)
                     .Register(registry)),
      age_family_(prometheus::BuildGauge()
                      .Name("porthole_enclave_metrics_age_seconds")
                      .Help("Age of the relayed enclave metrics served with this scrape (0 when live).")
                      .Labels(kParent)
                      .Register(registry)),
      pulls_family_(prometheus::BuildCounter()
                        .Name("porthole_enclave_metrics_pulls_total")
                        .Help("Pulls of the enclave's metrics over the control channel, by result.")
                        .Labels(kParent)
                        .Register(registry)),
      pull_duration_(prometheus::BuildHistogram()
                         .Name("porthole_enclave_metrics_pull_duration_seconds")
                         .Help("Time to pull the enclave's metrics over the control channel.")
                         .Labels(kParent)
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                          0.05, 0.1, 0.25, 0.5, 1, 2.5})),
      dropped_family_(prometheus::BuildCounter()
                          .Name("porthole_enclave_metrics_dropped_total")
                          .Help("Relayed enclave metrics dropped: lines that did not parse, series duplicated by "
                                "relabelling, families whose type conflicts with the sidecar's.")
                          .Labels(kParent)
                          .Register(registry)),
      invalid_lines_(dropped_family_.Add({{"reason", "invalid_line"}})),
      duplicate_series_(dropped_family_.Add({{"reason", "duplicate_series"}})),
      type_conflicts_(dropped_family_.Add({{"reason", "type_conflict"}})) {
  for (const char* r : kPullResults) pulls_family_.Add({{"result", r}});
  set_enclave_label(control_.enclave_name().value_or(kUnknownEnclave));
}

void MetricsEndpoint::set_enclave_label(const std::string& enclave) {
  if (enclave == labelled_enclave_ && up_) return;
  if (up_) up_family_.Remove(up_);
  if (age_) age_family_.Remove(age_);
  age_ = nullptr;
  labelled_enclave_ = enclave;
  up_ = &up_family_.Add({{"enclave", enclave}});
}

void MetricsEndpoint::render(std::function<void(std::string)> done) {
  const auto started = time_.now();
  auto session = control_.session();
  if (!session || !control_.ready()) {
    finish(std::nullopt, "disconnected", started, done);
    return;
  }
  session->request_metrics(scrape_timeout_, [this, started, done = std::move(done)](
                                                std::optional<std::string> text, std::string_view failure) {
    finish(std::move(text), failure, started, done);
  });
}

void MetricsEndpoint::finish(std::optional<std::string> text, std::string_view failure, MonoTime started,
                             const std::function<void(std::string)>& done) {
  const auto now = time_.now();
  if (text) {
    pull_duration_.Observe(std::chrono::duration<double>(now - started).count());
    auto parsed = telemetry::parse_prometheus_text(*text);
    if (!parsed.errors.empty()) {
      invalid_lines_.Increment(static_cast<double>(parsed.errors.size()));
      log_->warn("metrics: {} invalid lines in the enclave's metrics were dropped; first: line {}: {}",
                 parsed.errors.size(), parsed.errors.front().line, parsed.errors.front().message);
    }
    const auto enclave = control_.enclave_name().value_or(kUnknownEnclave);
    // Overwrites whatever side/enclave labels the agent sent: it cannot pose as the parent.
    if (const auto duplicates = telemetry::set_labels(parsed.families, {{"enclave", enclave}, {"side", "enclave"}})) {
      duplicate_series_.Increment(static_cast<double>(duplicates));
      log_->warn("metrics: {} enclave series became duplicates once relabelled and were dropped", duplicates);
    }
    for (auto& family : parsed.families) {
      for (auto& metric : family.metric) metric.timestamp_ms = 0;
    }
    // A family the sidecar also has, with another type, would make the exposition invalid.
    // Dropped here, once per snapshot, so this very scrape already counts it.
    std::unordered_map<std::string, prometheus::MetricType> own_types;
    for (const auto& family : collect_own()) own_types.emplace(family.name, family.type);
    std::erase_if(parsed.families, [&](const prometheus::MetricFamily& family) {
      auto it = own_types.find(family.name);
      if (it == own_types.end() || it->second == family.type) return false;
      type_conflicts_.Increment();
      log_->warn("metrics: enclave family '{}' has a different type than the sidecar's; dropped", family.name);
      return true;
    });
    snapshot_ = Snapshot{std::move(parsed.families), enclave, now};
    pulls_family_.Add({{"result", "ok"}}).Increment();
  } else {
    const std::string result = failure == "timeout" || failure == "disconnected" ? std::string(failure) : "error";
    pulls_family_.Add({{"result", result}}).Increment();
    log_->debug("metrics: enclave metrics pull failed ({}); serving {}", failure,
                snapshot_ ? "the last snapshot" : "no enclave metrics");
  }

  set_enclave_label(snapshot_ ? snapshot_->enclave : control_.enclave_name().value_or(kUnknownEnclave));
  up_->Set(text ? 1 : 0);
  if (snapshot_) {
    if (!age_) age_ = &age_family_.Add({{"enclave", labelled_enclave_}});
    age_->Set(std::chrono::duration<double>(now - snapshot_->taken).count());
  }

  auto families = collect_own();
  if (snapshot_) {
    auto relayed = snapshot_->families;  // copied: the snapshot serves later scrapes too
    // Conflicts were dropped from the snapshot already; merge_families drops any left anyway.
    telemetry::merge_families(families, std::move(relayed));
  }
  done(prometheus::TextSerializer().Serialize(families));
}

std::vector<prometheus::MetricFamily> MetricsEndpoint::collect_own() const {
  auto families = registry_.Collect();
  for (const auto* source : extra_) {
    for (auto& family : source->Collect()) families.push_back(std::move(family));
  }
  return families;
}

}  // namespace porthole::sidecar

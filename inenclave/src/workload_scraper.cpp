#include "porthole/agent/workload_scraper.hpp"

#include <algorithm>
#include <unordered_map>

#include "porthole/common/logging.hpp"
#include "porthole/telemetry/prom_text.hpp"

namespace porthole::agent {
namespace {

constexpr const char* kFailureReasons[] = {"connect", "timeout", "read", "http_status", "too_large", "parse",
                                           "invalid_lines"};
constexpr const char* kDropReasons[] = {"name_clash", "type_conflict"};
constexpr std::string_view kReservedPrefix = "porthole_";
constexpr const char* kRenamed[] = {"target", "enclave", "side"};

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::size_t sample_count(const std::vector<prometheus::MetricFamily>& families) {
  std::size_t n = 0;
  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      if (f.type == prometheus::MetricType::Histogram) n += m.histogram.bucket.size() + 2;
      else if (f.type == prometheus::MetricType::Summary) n += m.summary.quantile.size() + 2;
      else n += 1;
    }
  }
  return n;
}

}  // namespace

void label_workload_series(std::vector<prometheus::MetricFamily>& families, const std::string& target) {
  // As Prometheus does with honor_labels: false, a workload label that the relay sets itself
  // becomes exported_<name>, with more exported_ prefixes while that name is taken too, so no
  // label is lost and no two series merge.
  const auto taken = [](const prometheus::ClientMetric& m, const std::string& name) {
    return std::any_of(m.label.begin(), m.label.end(), [&](const auto& l) { return l.name == name; });
  };
  for (auto& family : families) {
    for (auto& metric : family.metric) {
      for (const char* reserved : kRenamed) {
        auto it = std::find_if(metric.label.begin(), metric.label.end(),
                               [&](const auto& l) { return l.name == reserved; });
        if (it == metric.label.end()) continue;
        std::string name = std::string("exported_") + reserved;
        while (taken(metric, name)) name = "exported_" + name;
        it->name = std::move(name);
      }
      std::sort(metric.label.begin(), metric.label.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
      metric.timestamp_ms = 0;
    }
  }
  telemetry::set_labels(families, {{"target", target}});
}

WorkloadScraper::WorkloadScraper(boost::asio::any_io_executor executor, TimeSource& time,
                                 const WorkloadMetricsConfig& config, const telemetry::TelemetryPolicy& policy,
                                 prometheus::Registry& registry, telemetry::PolicyMetrics* policy_metrics)
    : executor_(std::move(executor)),
      time_(time),
      config_(config),
      policy_(policy),
      policy_metrics_(policy_metrics),
      log_(logger("workload")),
      up_family_(prometheus::BuildGauge()
                     .Name("porthole_workload_up")
                     .Help("1 if the last scrape of the workload's metrics endpoint succeeded, else 0.")
                     .Register(registry)),
      duration_family_(prometheus::BuildGauge()
                           .Name("porthole_workload_scrape_duration_seconds")
                           .Help("How long the last scrape of the workload's metrics endpoint took.")
                           .Register(registry)),
      samples_family_(prometheus::BuildGauge()
                          .Name("porthole_workload_scrape_samples")
                          .Help("Samples relayed from the last good scrape, after the telemetry policy.")
                          .Register(registry)),
      age_family_(prometheus::BuildGauge()
                      .Name("porthole_workload_metrics_age_seconds")
                      .Help("Age of the workload snapshot relayed (0 right after a good scrape).")
                      .Register(registry)),
      errors_family_(prometheus::BuildCounter()
                         .Name("porthole_workload_scrape_errors_total")
                         .Help("Failed or partly invalid scrapes of the workload's metrics endpoints, by reason.")
                         .Register(registry)),
      dropped_family_(prometheus::BuildCounter()
                          .Name("porthole_workload_families_dropped_total")
                          .Help("Workload metric families not relayed: named porthole_* (name_clash), or of "
                                "another type than a family of the same name (type_conflict).")
                          .Register(registry)) {
  for (const auto& tc : config_.targets) {
    auto t = std::make_unique<Target>();
    t->config = &tc;
    t->timer = time_.make_timer();
    const prometheus::Labels labels{{"target", tc.name}};
    t->up = &up_family_.Add(labels);
    t->duration = &duration_family_.Add(labels);
    t->samples = &samples_family_.Add(labels);
    t->age = &age_family_.Add(labels);
    for (const char* r : kFailureReasons) errors_family_.Add({{"target", tc.name}, {"reason", r}});
    for (const char* r : kDropReasons) dropped_family_.Add({{"target", tc.name}, {"reason", r}});
    targets_.push_back(std::move(t));
  }
}

WorkloadScraper::~WorkloadScraper() {
  *alive_ = false;
  stop();
}

void WorkloadScraper::start() {
  stopped_ = false;
  for (auto& t : targets_) schedule(*t, Duration::zero());
}

void WorkloadScraper::stop() {
  stopped_ = true;
  for (auto& t : targets_) t->timer->cancel();
}

void WorkloadScraper::schedule(Target& target, Duration after) {
  if (stopped_) return;
  target.timer->arm(after, [this, &target] { scrape(target); });
}

void WorkloadScraper::scrape(Target& target) {
  if (stopped_ || target.in_flight) return;
  target.in_flight = true;
  const auto started = time_.now();
  // The next scrape is due one interval after this one started, whatever this one takes
  // (timeout <= interval, checked at config load, so they never overlap).
  schedule(target, target.config->interval);
  std::weak_ptr<bool> alive = alive_;
  fetch_metrics(executor_, time_, *target.config, config_.max_bytes,
                [this, alive, &target, started](ScrapeResponse response) {
                  if (alive.expired()) return;
                  on_response(target, std::move(response), started);
                });
}

void WorkloadScraper::on_response(Target& target, ScrapeResponse response, MonoTime started) {
  target.in_flight = false;
  ++target.completed;
  target.duration->Set(seconds(time_.now() - started));
  if (!response.failure.empty()) return fail(target, response.failure, response.detail);

  telemetry::PromParseLimits limits;
  limits.max_bytes = config_.max_bytes;
  auto parsed = telemetry::parse_prometheus_text(response.body, limits);
  if (!parsed.errors.empty()) {
    const auto& first = parsed.errors.front();
    const auto detail = std::to_string(parsed.errors.size() + parsed.suppressed_errors) +
                        " invalid lines, first: line " + std::to_string(first.line) + ": " + first.message;
    if (parsed.families.empty()) return fail(target, "parse", detail);
    // Lenient like the sidecar: the good lines are relayed, the bad ones counted.
    errors_family_.Add({{"target", target.config->name}, {"reason", "invalid_lines"}}).Increment();
    if (target.last_failure != "invalid_lines") {
      log_->warn("workload: target '{}': {}; relaying the rest", target.config->name, detail);
    }
    target.last_failure = "invalid_lines";
  } else {
    if (!target.last_failure.empty()) log_->info("workload: target '{}' scraped fine again", target.config->name);
    target.last_failure.clear();
  }
  target.snapshot = refine(target, std::move(parsed.families));
  target.taken = time_.now();
  target.stale_logged = false;
  target.up->Set(1);
  target.samples->Set(static_cast<double>(sample_count(*target.snapshot)));
  target.age->Set(0);
}

void WorkloadScraper::fail(Target& target, const std::string& reason, const std::string& detail) {
  target.up->Set(0);
  errors_family_.Add({{"target", target.config->name}, {"reason", reason}}).Increment();
  if (target.last_failure != reason) {
    log_->warn("workload: scraping target '{}' ({}) failed: {}: {}; {}", target.config->name, target.config->url,
               reason, detail,
               target.snapshot ? "serving the last good snapshot while it is fresh" : "no snapshot to serve");
  }
  target.last_failure = reason;
}

std::vector<prometheus::MetricFamily> WorkloadScraper::refine(Target& target,
                                                               std::vector<prometheus::MetricFamily> families) {
  const auto clashes = std::erase_if(families, [](const prometheus::MetricFamily& f) {
    return f.name.compare(0, kReservedPrefix.size(), kReservedPrefix) == 0;
  });
  if (clashes > 0) {
    count_dropped(target, "name_clash", static_cast<double>(clashes));
    if (!target.clash_logged) {
      target.clash_logged = true;
      log_->warn("workload: target '{}': {} families named porthole_* dropped (the prefix is the agent's)",
                 target.config->name, clashes);
    }
  }
  const auto counts = telemetry::apply_policy(policy_, families);
  if (policy_metrics_) policy_metrics_->record(counts);
  label_workload_series(families, target.config->name);
  return families;
}

void WorkloadScraper::count_dropped(const Target& target, const char* reason, double n) {
  dropped_family_.Add({{"target", target.config->name}, {"reason", reason}}).Increment(n);
}

void WorkloadScraper::append_to(std::vector<prometheus::MetricFamily>& families) {
  const auto now = time_.now();
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < families.size(); ++i) index.emplace(families[i].name, i);

  for (auto& t : targets_) {
    if (!t->snapshot) continue;
    const auto age = now - t->taken;
    if (config_.max_staleness > Duration::zero() && age > config_.max_staleness) {
      if (!t->stale_logged) {
        log_->warn("workload: target '{}': the last good snapshot is {}s old (max_staleness {}); no longer relayed",
                   t->config->name, static_cast<long long>(seconds(age)), format_duration(config_.max_staleness));
        t->stale_logged = true;
      }
      t->snapshot.reset();
      t->samples->Set(0);
      continue;
    }
    t->age->Set(seconds(age));
    for (const auto& family : *t->snapshot) {
      auto it = index.find(family.name);
      if (it == index.end()) {
        index.emplace(family.name, families.size());
        families.push_back(family);
        continue;
      }
      auto& existing = families[it->second];
      if (existing.type != family.type) {
        count_dropped(*t, "type_conflict");
        continue;
      }
      existing.metric.insert(existing.metric.end(), family.metric.begin(), family.metric.end());
    }
  }
}

}  // namespace porthole::agent

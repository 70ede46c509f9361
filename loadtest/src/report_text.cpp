// The human summary of a run.
#include <cstdio>
#include <sstream>

#include "report.hpp"
#include "request_stamp.hpp"
#include "units.hpp"

namespace porthole::loadtest {

std::string format_summary(const Report& report) {
  const auto& c = report.config;
  const auto& r = report.result;
  const auto& s = r.stats;
  std::ostringstream out;
  char line[256];
  out << "porthole-loadtest " << report.tool_version << ": " << c.url << " scenario " << c.scenario << ", "
      << c.connections << " connection(s) on " << c.threads << " thread(s)"
      << (r.interrupted ? "  [INTERRUPTED]" : "") << "\n";
  if (r.target_rate > 0) {
    std::snprintf(line, sizeof line, "  rate       target %.1f/s   sent %.1f/s (%.2f%%)   successful %.1f/s (%.2f%%)\n",
                  r.target_rate, r.send_rate, 100 * r.send_rate / r.target_rate, r.throughput,
                  100 * r.throughput / r.target_rate);
  } else {
    std::snprintf(line, sizeof line, "  rate       closed loop (--rate 0, as fast as possible)   sent %.1f/s   successful %.1f/s\n",
                  r.send_rate, r.throughput);
  }
  out << line;
  std::snprintf(line, sizeof line,
                "  requests   %llu measured in %.3f s, %llu errors (%.3f%%), %llu late, %llu never sent, %llu warm-up\n",
                static_cast<unsigned long long>(s.completed), r.measured_seconds,
                static_cast<unsigned long long>(s.errors),
                s.completed ? 100.0 * static_cast<double>(s.errors) / static_cast<double>(s.completed) : 0.0,
                static_cast<unsigned long long>(s.late), static_cast<unsigned long long>(s.unsent),
                static_cast<unsigned long long>(s.warmup));
  out << line;
  out << "  status    ";
  for (std::size_t i = 1; i < s.status_classes.size(); ++i) {
    if (s.status_classes[i]) out << " " << i << "xx=" << s.status_classes[i];
  }
  if (s.status_classes[0]) out << " no-response=" << s.status_classes[0];
  out << "\n";
  bool any_error = false;
  for (std::size_t i = 1; i < s.error_kinds.size(); ++i) any_error = any_error || s.error_kinds[i];
  if (any_error) {
    out << "  errors    ";
    for (std::size_t i = 1; i < s.error_kinds.size(); ++i) {
      if (s.error_kinds[i]) out << " " << to_string(static_cast<RequestError>(i)) << "=" << s.error_kinds[i];
    }
    out << "\n";
  }
  if (c.traceparent) out << "  traceparent on every request; the run's trace-ids start with " << run_id_hex(r.run_id) << "\n";
  out << "  latency (from intended send time; coordinated omission corrected) | service time (request written -> "
         "response; connecting apart)\n";
  for (double p : standard_percentiles()) {
    std::snprintf(line, sizeof line, "    p%-8g %12s | %12s\n", p, format_ns(s.latency.percentile(p)).c_str(),
                  format_ns(s.service.percentile(p)).c_str());
    out << line;
  }
  std::snprintf(line, sizeof line, "    mean      %12s | %12s    (histogram precision +-%.2f%%)\n",
                format_ns(static_cast<std::uint64_t>(s.latency.mean())).c_str(),
                format_ns(static_cast<std::uint64_t>(s.service.mean())).c_str(),
                100 * s.latency.relative_precision());
  out << line;
  std::snprintf(line, sizeof line,
                "  connect    %llu opened (TCP connect%s, warm-up included): p50 %s  p99 %s  max %s; %llu failed\n",
                static_cast<unsigned long long>(s.connect.count()), c.protocol == "https" ? " + TLS handshake" : "",
                format_ns(s.connect.percentile(50)).c_str(), format_ns(s.connect.percentile(99)).c_str(),
                format_ns(s.connect.max()).c_str(), static_cast<unsigned long long>(s.connect_failures));
  out << line;
  out << format_breakdown(report.breakdown);
  return out.str();
}

std::string format_breakdown(const Breakdown& b) {
  if (b.entries.empty() && b.notes.empty()) return "";
  std::ostringstream out;
  char line[512];
  out << "  where the time went (histograms' change over the run, warm-up included; p50/p90/p99 interpolated in "
         "server buckets)\n";
  std::snprintf(line, sizeof line, "    %-21s %9s %10s %10s %10s %10s  %s\n", "component", "count", "mean", "p50",
                "p90", "p99", "metric [source]");
  out << line;
  for (const auto& e : b.entries) {
    std::snprintf(line, sizeof line, "    %-21s %9.0f %10s %10s %10s %10s  %s%s [%s]\n", e.component.c_str(), e.count,
                  format_seconds(e.mean_seconds).c_str(), format_seconds(e.p50_seconds).c_str(),
                  format_seconds(e.p90_seconds).c_str(), format_seconds(e.p99_seconds).c_str(),
                  e.per_request ? "" : "(per connection) ", e.metric.c_str(), e.source.c_str());
    out << line;
  }
  if (b.split) out << "    " << format_split(*b.split) << "\n";
  for (const auto& n : b.notes) out << "    note: " << n << "\n";
  return out.str();
}

std::string format_split(const TimeSplit& t) {
  auto share = [&](double s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s (%.0f%%)", format_seconds(s).c_str(),
                  t.client_seconds > 0 ? 100 * s / t.client_seconds : 0.0);
    return std::string(buf);
  };
  std::string out = "mean per request " + format_seconds(t.client_seconds) + " = ";
  if (t.has_enclave) {
    out += "outside the enclave (network + sidecar + vsock) " + share(t.outside_seconds);
    out += t.has_workload ? " + agent " + share(t.agent_seconds) + " + workload " + share(t.workload_seconds)
                          : " + inside the enclave (agent + workload) " + share(t.agent_seconds);
  } else {
    out += "outside the workload " + share(t.outside_seconds) + " + workload " + share(t.workload_seconds);
  }
  return out;
}

}  // namespace porthole::loadtest

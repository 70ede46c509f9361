// The human summary of a run.
#include <cstdio>
#include <sstream>

#include "report.hpp"
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
    const double ratio = r.achieved_rate / r.target_rate;
    std::snprintf(line, sizeof line, "  rate       target %.1f/s   achieved %.1f/s (%.2f%%)\n", r.target_rate,
                  r.achieved_rate, 100 * ratio);
  } else {
    std::snprintf(line, sizeof line, "  rate       closed loop (--rate 0, as fast as possible)   achieved %.1f/s\n",
                  r.achieved_rate);
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
  out << "  latency (from intended send time; coordinated omission corrected) | service time (from actual send)\n";
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
  if (!report.breakdown.entries.empty() || !report.breakdown.notes.empty()) {
    out << "  where the time went (server-side histograms, delta over the run; client mean service time "
        << format_ns(static_cast<std::uint64_t>(s.service.mean())) << ")\n";
    for (const auto& e : report.breakdown.entries) {
      std::snprintf(line, sizeof line, "    %-24s %-58s n=%-9.0f mean %10s p50~%10s p99~%10s\n", e.component.c_str(),
                    e.metric.c_str(), e.count, format_seconds(e.mean_seconds).c_str(),
                    format_seconds(e.p50_seconds).c_str(), format_seconds(e.p99_seconds).c_str());
      out << line;
    }
    for (const auto& n : report.breakdown.notes) out << "    note: " << n << "\n";
  }
  return out.str();
}

}  // namespace porthole::loadtest

#include "slo_search.hpp"

#include <cstdio>
#include <sstream>

#include <boost/json.hpp>

#include "report_html.hpp"
#include "units.hpp"

namespace porthole::loadtest {

SloStep evaluate_step(const RunResult& run, double rate, const SloSpec& spec) {
  const auto& s = run.stats;
  SloStep step;
  step.rate = rate;
  step.send_rate = run.send_rate;
  step.throughput = run.throughput;
  step.requests = s.completed;
  step.percentile_ns = s.latency.percentile(spec.percentile);
  step.error_rate = s.completed ? static_cast<double>(s.errors) / static_cast<double>(s.completed) : 1.0;
  char buf[160];
  if (s.completed == 0) {
    step.reason = "no request completed";
  } else if (step.error_rate > spec.error_budget) {
    std::snprintf(buf, sizeof buf, "error rate %.3f%% > budget %.3f%%", 100 * step.error_rate, 100 * spec.error_budget);
    step.reason = buf;
  } else if (step.percentile_ns > static_cast<std::uint64_t>(spec.threshold.count())) {
    std::snprintf(buf, sizeof buf, "p%g %s > SLO %s", spec.percentile, format_ns(step.percentile_ns).c_str(),
                  format_ns(static_cast<std::uint64_t>(spec.threshold.count())).c_str());
    step.reason = buf;
  } else if (run.throughput < spec.min_achieved * rate) {
    std::snprintf(buf, sizeof buf, "successful %.1f/s < %.0f%% of target %.1f/s (sent %.1f/s)", run.throughput,
                  100 * spec.min_achieved, rate, run.send_rate);
    step.reason = buf;
  }
  step.passed = step.reason.empty();
  return step;
}

SloResult search_slo(const SloSpec& spec, const std::function<RunResult(double, Breakdown&)>& run_at,
                     const std::atomic<bool>& stop) {
  SloResult result;
  result.spec = spec;
  for (double rate = spec.start_rate; rate <= spec.max_rate * (1 + 1e-9); rate += spec.step_rate) {
    Breakdown breakdown;
    const RunResult run = run_at(rate, breakdown);
    if (stop.load() || run.interrupted) {
      result.interrupted = true;
      break;
    }
    result.steps.push_back(evaluate_step(run, rate, spec));
    result.steps.back().breakdown = std::move(breakdown);
    if (!result.steps.back().passed) break;
    result.max_sustainable_rate = rate;
  }
  return result;
}

boost::json::value slo_to_json(const SloResult& r, const std::string& url, const std::string& scenario) {
  boost::json::array steps;
  for (const auto& s : r.steps) {
    steps.push_back(boost::json::object{{"rate", s.rate},
                                        {"send_rate", s.send_rate},
                                        {"throughput", s.throughput},
                                        {"percentile_ns", s.percentile_ns},
                                        {"error_rate", s.error_rate},
                                        {"requests", s.requests},
                                        {"passed", s.passed},
                                        {"reason", s.reason},
                                        {"breakdown", breakdown_to_json(s.breakdown)}});
  }
  return boost::json::object{
      {"format", "porthole-loadtest-slo/2"},
      {"url", url},
      {"scenario", scenario},
      {"slo", boost::json::object{{"percentile", r.spec.percentile},
                                  {"threshold_seconds", std::chrono::duration<double>(r.spec.threshold).count()},
                                  {"error_budget", r.spec.error_budget},
                                  {"min_achieved", r.spec.min_achieved},
                                  {"start_rate", r.spec.start_rate},
                                  {"step_rate", r.spec.step_rate},
                                  {"max_rate", r.spec.max_rate}}},
      {"steps", std::move(steps)},
      {"max_sustainable_rate", r.max_sustainable_rate},
      {"interrupted", r.interrupted}};
}

std::string format_slo(const SloResult& r) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "SLO search: p%g <= %s, errors <= %.3f%%\n", r.spec.percentile,
                format_ns(static_cast<std::uint64_t>(r.spec.threshold.count())).c_str(), 100 * r.spec.error_budget);
  out << line;
  std::snprintf(line, sizeof line, "  %12s %12s %12s %12s %10s  %s\n", "target/s", "sent/s", "successful/s",
                "percentile", "errors", "result");
  out << line;
  for (const auto& s : r.steps) {
    std::snprintf(line, sizeof line, "  %12.1f %12.1f %12.1f %12s %9.3f%%  %s\n", s.rate, s.send_rate, s.throughput,
                  format_ns(s.percentile_ns).c_str(), 100 * s.error_rate, s.passed ? "pass" : s.reason.c_str());
    out << line;
  }
  for (const auto& s : r.steps) {
    if (s.breakdown.split) {
      std::snprintf(line, sizeof line, "  at %.1f/s: ", s.rate);
      out << line << format_split(*s.breakdown.split) << "\n";
    }
    for (const auto& n : s.breakdown.notes) {
      std::snprintf(line, sizeof line, "  at %.1f/s: note: ", s.rate);
      out << line << n << "\n";
    }
  }
  std::snprintf(line, sizeof line, "maximum sustainable rate: %.1f/s%s\n", r.max_sustainable_rate,
                r.interrupted ? " (search interrupted)" : "");
  out << line;
  return out.str();
}

std::string slo_to_html(const SloResult& r, const std::string& url) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>porthole-loadtest SLO search"
      << "</title><style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:3px 8px}"
      << "table{border-collapse:collapse}</style></head><body><h1>SLO search</h1><pre>";
  for (char c : format_slo(r) + "url: " + url + "\n") {
    if (c == '<') {
      out << "&lt;";
    } else if (c == '&') {
      out << "&amp;";
    } else if (c == '>') {
      out << "&gt;";
    } else {
      out << c;
    }
  }
  out << "</pre>\n";
  // The curve: percentile latency against target rate.
  double max_rate = 1, max_ms = 1;
  for (const auto& s : r.steps) {
    max_rate = std::max(max_rate, s.rate);
    max_ms = std::max(max_ms, static_cast<double>(s.percentile_ns) * 1e-6);
  }
  const double slo_ms = static_cast<double>(r.spec.threshold.count()) * 1e-6;
  max_ms = std::max(max_ms, slo_ms) * 1.1;
  constexpr double W = 800, H = 300, L = 60, B = 30, T = 10;
  auto px = [&](double x) { return L + x / max_rate * (W - L - 10); };
  auto py = [&](double y) { return H - B - y / max_ms * (H - B - T); };
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\">"
      << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - 10 << "\" height=\"" << H - B - T
      << "\" fill=\"none\" stroke=\"#999\"/><line x1=\"" << L << "\" x2=\"" << W - 10 << "\" y1=\"" << py(slo_ms)
      << "\" y2=\"" << py(slo_ms) << "\" stroke=\"#d62728\" stroke-dasharray=\"4\"/><polyline fill=\"none\" "
      << "stroke=\"#1f77b4\" stroke-width=\"2\" points=\"";
  for (const auto& s : r.steps) out << px(s.rate) << "," << py(static_cast<double>(s.percentile_ns) * 1e-6) << " ";
  out << "\"/><text x=\"" << L << "\" y=\"" << H - 8 << "\" font-size=\"11\">target rate 0 .. " << max_rate
      << "/s</text><text x=\"4\" y=\"" << T + 12 << "\" font-size=\"11\">" << max_ms << " ms</text></svg>\n"
      << "\n";
  for (const auto& s : r.steps) {
    if (s.breakdown.entries.empty() && s.breakdown.notes.empty()) continue;
    out << "<h2>At " << s.rate << "/s</h2>\n" << breakdown_html(s.breakdown);
  }
  out << "</body></html>\n";
  return out.str();
}

}  // namespace porthole::loadtest

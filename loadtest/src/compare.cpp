#include "compare.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include <boost/json.hpp>

#include "units.hpp"

namespace porthole::loadtest {

namespace {

constexpr double kSame = 0.01;

ComparisonRow row(std::string metric, std::string unit, double a, double b, bool lower_is_better) {
  ComparisonRow r{std::move(metric), std::move(unit), a, b, 0, lower_is_better, "same"};
  if (a == b) {
    r.change = 0;
  } else if (a == 0) {
    r.change = std::numeric_limits<double>::infinity();
  } else {
    r.change = (b - a) / a;
  }
  if (std::fabs(r.change) >= kSame) r.verdict = ((b < a) == lower_is_better) ? "better" : "worse";
  return r;
}

double error_rate(const RunStats& s) {
  return s.completed ? static_cast<double>(s.errors) / static_cast<double>(s.completed) : 0.0;
}

std::string value_text(const ComparisonRow& r, double v) {
  char buf[64];
  if (r.unit == "s") return format_seconds(v);
  if (r.unit == "ratio") {
    std::snprintf(buf, sizeof buf, "%.3f%%", 100 * v);
  } else if (r.unit == "req/s") {
    std::snprintf(buf, sizeof buf, "%.1f/s", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

}  // namespace

std::vector<ComparisonRow> compare_reports(const Report& a, const Report& b) {
  const auto& sa = a.result.stats;
  const auto& sb = b.result.stats;
  std::vector<ComparisonRow> rows;
  rows.push_back(row("target rate", "req/s", a.result.target_rate, b.result.target_rate, false));
  rows.push_back(row("send rate", "req/s", a.result.send_rate, b.result.send_rate, false));
  rows.push_back(row("throughput", "req/s", a.result.throughput, b.result.throughput, false));
  rows.push_back(row("requests", "count", static_cast<double>(sa.completed), static_cast<double>(sb.completed), false));
  rows.push_back(row("error rate", "ratio", error_rate(sa), error_rate(sb), true));
  rows.push_back(row("late sends", "count", static_cast<double>(sa.late), static_cast<double>(sb.late), true));
  rows.push_back(row("never sent", "count", static_cast<double>(sa.unsent), static_cast<double>(sb.unsent), true));
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    char name[32];
    std::snprintf(name, sizeof name, p == 100 ? "latency max" : "latency p%g", p);
    rows.push_back(row(name, "s", static_cast<double>(sa.latency.percentile(p)) * 1e-9,
                       static_cast<double>(sb.latency.percentile(p)) * 1e-9, true));
  }
  rows.push_back(row("latency mean", "s", sa.latency.mean() * 1e-9, sb.latency.mean() * 1e-9, true));
  for (double p : {50.0, 99.0}) {
    char name[32];
    std::snprintf(name, sizeof name, "service p%g", p);
    rows.push_back(row(name, "s", static_cast<double>(sa.service.percentile(p)) * 1e-9,
                       static_cast<double>(sb.service.percentile(p)) * 1e-9, true));
  }
  rows.push_back(row("connect p99", "s", static_cast<double>(sa.connect.percentile(99)) * 1e-9,
                     static_cast<double>(sb.connect.percentile(99)) * 1e-9, true));
  return rows;
}

std::string format_comparison(const std::string& name_a, const std::string& name_b,
                              const std::vector<ComparisonRow>& rows) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %14s %14s %10s  %s\n", "metric", "A", "B", "change", "verdict");
  out << "A: " << name_a << "\nB: " << name_b << "\n" << line;
  for (const auto& r : rows) {
    char change[32];
    if (std::isinf(r.change)) {
      std::snprintf(change, sizeof change, "new");
    } else {
      std::snprintf(change, sizeof change, "%+.1f%%", 100 * r.change);
    }
    std::snprintf(line, sizeof line, "%-16s %14s %14s %10s  %s\n", r.metric.c_str(), value_text(r, r.a).c_str(),
                  value_text(r, r.b).c_str(), change, r.verdict.c_str());
    out << line;
  }
  return out.str();
}

boost::json::value comparison_to_json(const std::string& name_a, const std::string& name_b,
                                      const std::vector<ComparisonRow>& rows) {
  boost::json::array out;
  for (const auto& r : rows) {
    boost::json::object o{{"metric", r.metric}, {"unit", r.unit}, {"a", r.a}, {"b", r.b}, {"verdict", r.verdict}};
    if (std::isinf(r.change)) {
      o["change"] = nullptr;
    } else {
      o["change"] = r.change;
    }
    out.push_back(std::move(o));
  }
  return boost::json::object{{"a", name_a}, {"b", name_b}, {"rows", std::move(out)}};
}

}  // namespace porthole::loadtest

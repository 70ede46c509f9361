#include "report_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "request_stamp.hpp"
#include "units.hpp"

namespace porthole::loadtest {

namespace {

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;  // x, y
};

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// A line chart: linear y from 0, x either linear or labelled by `x_label_of`.
std::string chart(const std::string& title, const std::string& y_unit, const std::vector<Series>& series,
                  std::string (*x_label_of)(double), std::string (*y_label_of)(double)) {
  constexpr double W = 860, H = 320, L = 80, R = 20, T = 30, B = 40;
  double x_min = INFINITY, x_max = -INFINITY, y_max = 0;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      x_min = std::min(x_min, x);
      x_max = std::max(x_max, x);
      y_max = std::max(y_max, y);
    }
  }
  std::ostringstream out;
  out << "<figure><figcaption>" << escape(title) << "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
      << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H << "\" role=\"img\">\n";
  if (!(x_max > x_min)) {
    x_max = std::isfinite(x_min) ? x_min + 1 : 1;
    if (!std::isfinite(x_min)) x_min = 0;
  }
  if (!(y_max > 0)) y_max = 1;
  y_max *= 1.05;
  auto px = [&](double x) { return L + (x - x_min) / (x_max - x_min) * (W - L - R); };
  auto py = [&](double y) { return H - B - y / y_max * (H - T - B); };
  out << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
      << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double y = y_max * i / 4;
    out << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << num(py(y)) << "\" y2=\"" << num(py(y))
        << "\" stroke=\"#eee\"/><text x=\"" << L - 6 << "\" y=\"" << num(py(y) + 4)
        << "\" text-anchor=\"end\" font-size=\"11\">" << escape(y_label_of(y)) << "</text>\n";
  }
  for (int i = 0; i <= 5; ++i) {
    const double x = x_min + (x_max - x_min) * i / 5;
    out << "<text x=\"" << num(px(x)) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\" font-size=\"11\">"
        << escape(x_label_of(x)) << "</text>\n";
  }
  out << "<text x=\"12\" y=\"" << T - 10 << "\" font-size=\"11\">" << escape(y_unit) << "</text>\n";
  double legend_x = L + 10;
  for (const auto& s : series) {
    if (s.points.empty()) continue;
    out << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"1.5\" points=\"";
    for (const auto& [x, y] : s.points) out << num(px(x)) << "," << num(py(y)) << " ";
    out << "\"/>\n<text x=\"" << legend_x << "\" y=\"" << T + 14 << "\" font-size=\"12\" fill=\"" << s.color << "\">"
        << escape(s.name) << "</text>\n";
    legend_x += 14 + 7.0 * static_cast<double>(s.name.size());
  }
  out << "</svg></figure>\n";
  return out.str();
}

// The percentile spectrum's x axis: log10(1 / (1 - p)), so 90, 99, 99.9, ... are evenly spaced.
std::string spectrum_label(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%%", 100 * (1 - std::pow(10.0, -x)));
  return buf;
}
std::string seconds_label(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", x);
  return buf;
}
std::string ms_label(double y) { return format_seconds(y / 1000); }
std::string rate_label(double y) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f/s", y);
  return buf;
}

std::string precision_text(double relative) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f%%", 100 * relative);
  return buf;
}

std::vector<std::pair<double, double>> spectrum(const LatencyHistogram& h) {
  std::vector<std::pair<double, double>> out;
  if (h.count() == 0) return out;
  const double x_end = std::log10(std::max<double>(10, static_cast<double>(h.count())));
  for (int i = 0; i <= 400; ++i) {
    const double x = x_end * i / 400;
    const double p = 100 * (1 - std::pow(10.0, -x));
    out.emplace_back(x, static_cast<double>(h.percentile(p)) * 1e-6);
  }
  out.emplace_back(x_end, static_cast<double>(h.max()) * 1e-6);
  return out;
}

std::string rate_text(double rate, double target) {
  char buf[64];
  if (target > 0) {
    std::snprintf(buf, sizeof buf, "%.1f/s (%.2f%% of target)", rate, 100 * rate / target);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f/s", rate);
  }
  return buf;
}

}  // namespace

std::string breakdown_html(const Breakdown& b) {
  if (b.entries.empty() && b.notes.empty()) return "";
  std::ostringstream out;
  out << "<h2>Where the time went</h2>\n<p>Per request: the client's service time next to the histograms scraped "
      << "from /metrics before the first connection and after the last response (their change over the run, warm-up "
      << "included; server percentiles are interpolated inside their buckets).</p>\n"
      << "<table><tr><th class=\"l\">component</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th>"
      << "<th class=\"l\">metric</th><th class=\"l\">source</th></tr>\n";
  for (const auto& e : b.entries) {
    out << "<tr><td class=\"l\">" << escape(e.component) << (e.per_request ? "" : " (per connection)") << "</td><td>"
        << num(e.count) << "</td><td>" << format_seconds(e.mean_seconds) << "</td><td>" << format_seconds(e.p50_seconds)
        << "</td><td>" << format_seconds(e.p90_seconds) << "</td><td>" << format_seconds(e.p99_seconds)
        << "</td><td class=\"l\">" << escape(e.metric) << "</td><td class=\"l\">" << escape(e.source)
        << "</td></tr>\n";
  }
  out << "</table>\n";
  if (b.split) out << "<p><b>" << escape(format_split(*b.split)) << "</b></p>\n";
  for (const auto& n : b.notes) out << "<p>Note: " << escape(n) << "</p>\n";
  return out.str();
}

std::string report_to_html(const Report& report) {
  const auto& c = report.config;
  const auto& r = report.result;
  const auto& s = r.stats;
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>porthole-loadtest: "
      << escape(c.url) << "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:900px}"
      << "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      << "th{background:#f4f4f4}td.l,th.l{text-align:left}figcaption{font-weight:bold;margin-top:1em}</style>"
      << "</head><body>\n<h1>porthole-loadtest report</h1>\n";
  out << "<table><tr><th class=\"l\">url</th><td class=\"l\">" << escape(c.url) << "</td></tr>"
      << "<tr><th class=\"l\">scenario</th><td class=\"l\">" << escape(c.scenario) << " (" << escape(c.protocol)
      << ")</td></tr><tr><th class=\"l\">started</th><td class=\"l\">" << escape(r.started_at)
      << "</td></tr><tr><th class=\"l\">connections / threads</th><td class=\"l\">" << c.connections << " / "
      << c.threads << "</td></tr><tr><th class=\"l\">target rate</th><td class=\"l\">"
      << (r.target_rate > 0 ? num(r.target_rate) + "/s" : std::string("closed loop (max)"))
      << "</td></tr><tr><th class=\"l\">sent (inside the window)</th><td class=\"l\">" << rate_text(r.send_rate, r.target_rate)
      << "</td></tr><tr><th class=\"l\">successful responses (throughput)</th><td class=\"l\">"
      << rate_text(r.throughput, r.target_rate) << "</td></tr><tr><th class=\"l\">measured</th><td class=\"l\">"
      << s.completed << " requests in "
      << num(r.measured_seconds) << " s; " << s.errors << " errors, " << s.late << " late, " << s.unsent
      << " never sent, " << s.warmup << " warm-up" << (r.interrupted ? " (interrupted)" : "")
      << "</td></tr><tr><th class=\"l\">connections opened</th><td class=\"l\">" << s.connect.count()
      << " (connect p50 " << format_ns(s.connect.percentile(50)) << ", p99 " << format_ns(s.connect.percentile(99))
      << ", max " << format_ns(s.connect.max()) << "); " << s.connect_failures << " failed</td></tr>";
  if (c.traceparent) {
    out << "<tr><th class=\"l\">trace-ids</th><td class=\"l\">" << run_id_hex(r.run_id)
        << "&hellip; (a traceparent on every request)</td></tr>";
  }
  out << "</table>\n";

  out << "<table><tr><th>percentile</th><th>latency (from intended send)</th><th>service time</th></tr>\n";
  for (double p : standard_percentiles()) {
    char name[16];
    std::snprintf(name, sizeof name, "%g", p);
    out << "<tr><td>" << name << "</td><td>" << format_ns(s.latency.percentile(p)) << "</td><td>"
        << format_ns(s.service.percentile(p)) << "</td></tr>\n";
  }
  out << "</table>\n<p>Latency is measured from each request's intended send time (coordinated omission "
      << "corrected); service time from when its bytes started to go out (connecting and the TLS handshake are "
      << "counted apart, per connection). Histogram precision: values within &plusmn;"
      << precision_text(s.latency.relative_precision()) << " of a recorded value.</p>\n";

  out << chart("Latency percentile spectrum", "ms",
               {{"latency", "#d62728", spectrum(s.latency)}, {"service time", "#1f77b4", spectrum(s.service)}},
               spectrum_label, ms_label);
  const double dt = std::chrono::duration<double>(s.timeline_interval).count();
  Series rate{"successful/s", "#2ca02c", {}}, errors{"errors/s", "#d62728", {}};
  Series p50{"p50", "#1f77b4", {}}, p99{"p99", "#ff7f0e", {}}, pmax{"max", "#d62728", {}};
  for (std::size_t i = 0; i < s.timeline.size(); ++i) {
    const auto& pt = s.timeline[i];
    const double x = dt * static_cast<double>(i);
    rate.points.emplace_back(x, static_cast<double>(pt.completed - pt.errors) / dt);
    errors.points.emplace_back(x, static_cast<double>(pt.errors) / dt);
    if (pt.latency.count() == 0) continue;
    p50.points.emplace_back(x, static_cast<double>(pt.latency.percentile(50)) * 1e-6);
    p99.points.emplace_back(x, static_cast<double>(pt.latency.percentile(99)) * 1e-6);
    pmax.points.emplace_back(x, static_cast<double>(pt.latency.max()) * 1e-6);
  }
  out << chart("Responses over time (measured requests, by completion time)", "req/s", {rate, errors}, seconds_label, rate_label);
  out << chart("Latency over time (per interval, coarse histogram)", "ms", {p50, p99, pmax}, seconds_label, ms_label);

  out << breakdown_html(report.breakdown);
  out << "<p>" << escape("porthole-loadtest " + report.tool_version) << "</p>\n</body></html>\n";
  return out.str();
}

}  // namespace porthole::loadtest

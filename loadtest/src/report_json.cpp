#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <boost/json.hpp>

#include "report.hpp"
#include "request_stamp.hpp"

namespace porthole::loadtest {

namespace json = boost::json;

namespace {

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

const json::value& need(const json::object& o, const char* key, const std::string& where) {
  const auto* v = o.if_contains(key);
  if (!v) throw std::runtime_error(where + ": missing field '" + key + "'");
  return *v;
}

const json::object& need_object(const json::object& o, const char* key, const std::string& where) {
  const auto& v = need(o, key, where);
  if (!v.is_object()) throw std::runtime_error(where + "." + key + ": must be an object");
  return v.as_object();
}

std::uint64_t as_u64(const json::value& v, const std::string& where) {
  if (v.is_uint64()) return v.as_uint64();
  if (v.is_int64() && v.as_int64() >= 0) return static_cast<std::uint64_t>(v.as_int64());
  throw std::runtime_error(where + ": must be a non-negative whole number");
}

double as_double(const json::value& v, const std::string& where) {
  if (v.is_double()) return v.as_double();
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  throw std::runtime_error(where + ": must be a number");
}

std::uint64_t u64(const json::object& o, const char* key, const std::string& where) {
  return as_u64(need(o, key, where), where + "." + key);
}
double num(const json::object& o, const char* key, const std::string& where) {
  return as_double(need(o, key, where), where + "." + key);
}
std::string str(const json::object& o, const char* key, const std::string& where) {
  const auto& v = need(o, key, where);
  if (!v.is_string()) throw std::runtime_error(where + "." + key + ": must be a string");
  return std::string(v.as_string());
}

std::string percentile_key(double p) {
  std::ostringstream s;
  s << p;
  return s.str();
}

void pretty(std::ostringstream& out, const json::value& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.empty()) {
      out << "{}";
      return;
    }
    out << "{\n";
    std::size_t i = 0;
    for (const auto& kv : o) {
      out << pad << "  " << json::serialize(json::string(kv.key())) << ": ";
      pretty(out, kv.value(), indent + 1);
      out << (++i < o.size() ? ",\n" : "\n");
    }
    out << pad << "}";
  } else if (v.is_array()) {
    const auto& a = v.as_array();
    // Arrays of scalars or of short arrays (histogram buckets) stay on one line.
    bool flat = true;
    for (const auto& e : a) flat = flat && (!e.is_object());
    if (flat) {
      out << json::serialize(v);
      return;
    }
    out << "[\n";
    for (std::size_t i = 0; i < a.size(); ++i) {
      out << pad << "  ";
      pretty(out, a[i], indent + 1);
      out << (i + 1 < a.size() ? ",\n" : "\n");
    }
    out << pad << "]";
  } else {
    out << json::serialize(v);
  }
}

std::uint64_t run_id_from_hex(const std::string& text, const std::string& where) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (text.size() != 16 || ec != std::errc() || p != text.data() + text.size()) {
    throw std::runtime_error(where + ": want 16 hex digits");
  }
  return v;
}

}  // namespace

json::value breakdown_to_json(const Breakdown& b) {
  json::array entries;
  for (const auto& e : b.entries) {
    entries.push_back(json::object{{"component", e.component},       {"metric", e.metric},
                                   {"source", e.source},             {"per_request", e.per_request},
                                   {"count", e.count},               {"mean_seconds", e.mean_seconds},
                                   {"p50_seconds", e.p50_seconds},   {"p90_seconds", e.p90_seconds},
                                   {"p99_seconds", e.p99_seconds}});
  }
  json::array notes;
  for (const auto& n : b.notes) notes.push_back(json::string(n));
  json::value split = nullptr;
  if (b.split) {
    split = json::object{{"client_seconds", b.split->client_seconds},
                         {"outside_enclave_seconds", b.split->outside_seconds},
                         {"agent_seconds", b.split->agent_seconds},
                         {"workload_seconds", b.split->workload_seconds},
                         {"has_enclave", b.split->has_enclave},
                         {"has_workload", b.split->has_workload}};
  }
  return json::object{{"entries", std::move(entries)}, {"split", std::move(split)}, {"notes", std::move(notes)}};
}

Breakdown breakdown_from_json(const json::value& v) {
  const std::string bw = "report.breakdown";
  if (!v.is_object()) throw std::runtime_error(bw + ": must be an object");
  const auto& o = v.as_object();
  Breakdown out;
  const auto& entries = need(o, "entries", bw);
  if (!entries.is_array()) throw std::runtime_error(bw + ".entries: must be an array");
  for (const auto& e : entries.as_array()) {
    if (!e.is_object()) throw std::runtime_error(bw + ".entries: want objects");
    const auto& eo = e.as_object();
    const auto& per_request = need(eo, "per_request", bw + ".entries");
    if (!per_request.is_bool()) throw std::runtime_error(bw + ".entries.per_request: must be true or false");
    out.entries.push_back({str(eo, "component", bw), str(eo, "metric", bw), str(eo, "source", bw),
                           per_request.as_bool(), num(eo, "count", bw), num(eo, "mean_seconds", bw),
                           num(eo, "p50_seconds", bw), num(eo, "p90_seconds", bw), num(eo, "p99_seconds", bw)});
  }
  const auto& split = need(o, "split", bw);
  if (split.is_object()) {
    const auto& so = split.as_object();
    const std::string sw = bw + ".split";
    TimeSplit t;
    t.client_seconds = num(so, "client_seconds", sw);
    t.outside_seconds = num(so, "outside_enclave_seconds", sw);
    t.agent_seconds = num(so, "agent_seconds", sw);
    t.workload_seconds = num(so, "workload_seconds", sw);
    t.has_enclave = need(so, "has_enclave", sw).is_bool() && need(so, "has_enclave", sw).as_bool();
    t.has_workload = need(so, "has_workload", sw).is_bool() && need(so, "has_workload", sw).as_bool();
    out.split = t;
  } else if (!split.is_null()) {
    throw std::runtime_error(bw + ".split: must be an object or null");
  }
  const auto& notes = need(o, "notes", bw);
  if (!notes.is_array()) throw std::runtime_error(bw + ".notes: must be an array");
  for (const auto& n : notes.as_array()) {
    if (!n.is_string()) throw std::runtime_error(bw + ".notes: want strings");
    out.notes.emplace_back(n.as_string());
  }
  return out;
}

const std::vector<double>& standard_percentiles() {
  static const std::vector<double> p{0, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 100};
  return p;
}

ReportConfig describe(const RunConfig& c, const std::string& scenario_label) {
  ReportConfig r;
  r.url = c.url;
  r.scenario = scenario_label;
  r.protocol = c.scenario.protocol == WireProtocol::Tcp ? "tcp" : (c.target.tls ? "https" : "http");
  r.rate = c.rate;
  r.connections = c.connections;
  r.threads = c.threads;
  r.duration_seconds = c.duration ? seconds(*c.duration) : 0;
  r.requests = c.requests.value_or(0);
  r.warmup_seconds = seconds(c.warmup);
  r.jitter = c.jitter;
  r.timeout_seconds = seconds(c.timeout);
  r.late_threshold_seconds = seconds(c.late_threshold);
  r.seed = c.seed;
  r.traceparent = c.traceparent && c.scenario.protocol == WireProtocol::Http;
  return r;
}

json::value histogram_to_json(const LatencyHistogram& h) {
  json::object o;
  o["unit"] = "ns";
  o["bits"] = h.bits();
  o["max_trackable"] = h.max_ns();
  o["relative_precision"] = h.relative_precision();
  o["count"] = h.count();
  o["min"] = h.min();
  o["max"] = h.max();
  o["mean"] = h.mean();
  o["stddev"] = h.stddev();
  o["sum"] = h.sum();
  o["clamped"] = h.clamped();
  json::object pct;
  for (double p : standard_percentiles()) pct[percentile_key(p)] = h.percentile(p);
  o["percentiles"] = std::move(pct);
  json::array buckets;
  for (const auto& [i, n] : h.nonzero_buckets()) buckets.push_back(json::array{i, n});
  o["buckets"] = std::move(buckets);
  return o;
}

LatencyHistogram histogram_from_json(const json::value& v) {
  if (!v.is_object()) throw std::runtime_error("histogram: must be an object");
  const auto& o = v.as_object();
  const std::string w = "histogram";
  if (str(o, "unit", w) != "ns") throw std::runtime_error("histogram.unit: must be ns");
  const auto bits = u64(o, "bits", w);
  if (bits < 4 || bits > 16) throw std::runtime_error("histogram.bits: must be 4..16");
  LatencyHistogram h(static_cast<unsigned>(bits), u64(o, "max_trackable", w));
  const auto& b = need(o, "buckets", w);
  if (!b.is_array()) throw std::runtime_error("histogram.buckets: must be an array of [index, count]");
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
  for (const auto& e : b.as_array()) {
    if (!e.is_array() || e.as_array().size() != 2) throw std::runtime_error("histogram.buckets: want [index, count]");
    buckets.emplace_back(as_u64(e.as_array()[0], "bucket index"), as_u64(e.as_array()[1], "bucket count"));
  }
  try {
    h.restore(buckets, u64(o, "min", w), u64(o, "max", w), u64(o, "sum", w), u64(o, "clamped", w));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("histogram.buckets: ") + e.what());
  }
  if (h.count() != u64(o, "count", w)) throw std::runtime_error("histogram.count: does not match the buckets");
  return h;
}

json::value report_to_json(const Report& report) {
  const auto& c = report.config;
  const auto& r = report.result;
  const auto& s = r.stats;
  json::object config{{"url", c.url},
                      {"scenario", c.scenario},
                      {"protocol", c.protocol},
                      {"rate", c.rate},
                      {"connections", c.connections},
                      {"threads", c.threads},
                      {"duration_seconds", c.duration_seconds},
                      {"requests", c.requests},
                      {"warmup_seconds", c.warmup_seconds},
                      {"jitter", c.jitter},
                      {"timeout_seconds", c.timeout_seconds},
                      {"late_threshold_seconds", c.late_threshold_seconds},
                      {"seed", c.seed},
                      {"traceparent", c.traceparent}};
  json::object status;
  for (std::size_t i = 0; i < s.status_classes.size(); ++i) {
    status[i == 0 ? std::string("none") : std::to_string(i) + "xx"] = s.status_classes[i];
  }
  json::object errors;
  for (std::size_t i = 1; i < s.error_kinds.size(); ++i) errors[to_string(static_cast<RequestError>(i))] = s.error_kinds[i];
  json::array points;
  for (std::size_t i = 0; i < s.timeline.size(); ++i) {
    points.push_back(json::object{{"completed", s.timeline[i].completed},
                                  {"errors", s.timeline[i].errors},
                                  {"latency", histogram_to_json(s.timeline[i].latency)}});
  }
  json::object result{{"started_at", r.started_at},
                      {"target_rate", r.target_rate},
                      {"send_rate", r.send_rate},
                      {"throughput", r.throughput},
                      {"measured_seconds", r.measured_seconds},
                      {"interrupted", r.interrupted},
                      {"trace_id_prefix", run_id_hex(r.run_id)},
                      {"completed", s.completed},
                      {"errors", s.errors},
                      {"late", s.late},
                      {"unsent", s.unsent},
                      {"warmup", s.warmup},
                      {"sent_in_window", s.sent_in_window},
                      {"ok_in_window", s.ok_in_window},
                      {"connect_failures", s.connect_failures},
                      {"last_done_ns", s.last_done_ns},
                      {"bytes_sent", s.bytes_sent},
                      {"bytes_received", s.bytes_received},
                      {"status", std::move(status)},
                      {"error_kinds", std::move(errors)},
                      {"latency", histogram_to_json(s.latency)},
                      {"service_time", histogram_to_json(s.service)},
                      {"connect_time", histogram_to_json(s.connect)},
                      {"timeline", json::object{{"interval_seconds", seconds(s.timeline_interval)},
                                                {"points", std::move(points)}}}};
  return json::object{{"format", kReportFormat},
                      {"tool_version", report.tool_version},
                      {"config", std::move(config)},
                      {"result", std::move(result)},
                      {"breakdown", breakdown_to_json(report.breakdown)}};
}

Report report_from_json(const json::value& v) {
  if (!v.is_object()) throw std::runtime_error("report: the top level must be an object");
  const auto& top = v.as_object();
  const auto format = str(top, "format", "report");
  if (format == "porthole-loadtest/1") {
    throw std::runtime_error(
        "report.format: porthole-loadtest/1 is from an older porthole-loadtest whose achieved rate counted failed and "
        "late requests; rerun the load to get a porthole-loadtest/2 report");
  }
  if (format != kReportFormat) throw std::runtime_error(std::string("report.format: want \"") + kReportFormat + "\"");
  Report out;
  out.tool_version = str(top, "tool_version", "report");
  const auto& c = need_object(top, "config", "report");
  const std::string cw = "report.config";
  out.config.url = str(c, "url", cw);
  out.config.scenario = str(c, "scenario", cw);
  out.config.protocol = str(c, "protocol", cw);
  out.config.rate = num(c, "rate", cw);
  out.config.connections = static_cast<unsigned>(u64(c, "connections", cw));
  out.config.threads = static_cast<unsigned>(u64(c, "threads", cw));
  out.config.duration_seconds = num(c, "duration_seconds", cw);
  out.config.requests = u64(c, "requests", cw);
  out.config.warmup_seconds = num(c, "warmup_seconds", cw);
  out.config.jitter = num(c, "jitter", cw);
  out.config.timeout_seconds = num(c, "timeout_seconds", cw);
  out.config.late_threshold_seconds = num(c, "late_threshold_seconds", cw);
  out.config.seed = u64(c, "seed", cw);
  const auto& tp = need(c, "traceparent", cw);
  if (!tp.is_bool()) throw std::runtime_error(cw + ".traceparent: must be true or false");
  out.config.traceparent = tp.as_bool();

  const auto& r = need_object(top, "result", "report");
  const std::string rw = "report.result";
  auto& res = out.result;
  res.started_at = str(r, "started_at", rw);
  res.target_rate = num(r, "target_rate", rw);
  res.send_rate = num(r, "send_rate", rw);
  res.throughput = num(r, "throughput", rw);
  res.run_id = run_id_from_hex(str(r, "trace_id_prefix", rw), rw + ".trace_id_prefix");
  res.measured_seconds = num(r, "measured_seconds", rw);
  const auto& interrupted = need(r, "interrupted", rw);
  if (!interrupted.is_bool()) throw std::runtime_error(rw + ".interrupted: must be true or false");
  res.interrupted = interrupted.as_bool();
  auto& s = res.stats;
  s.completed = u64(r, "completed", rw);
  s.errors = u64(r, "errors", rw);
  s.late = u64(r, "late", rw);
  s.unsent = u64(r, "unsent", rw);
  s.warmup = u64(r, "warmup", rw);
  s.sent_in_window = u64(r, "sent_in_window", rw);
  s.ok_in_window = u64(r, "ok_in_window", rw);
  s.connect_failures = u64(r, "connect_failures", rw);
  s.last_done_ns = static_cast<std::int64_t>(u64(r, "last_done_ns", rw));
  s.bytes_sent = u64(r, "bytes_sent", rw);
  s.bytes_received = u64(r, "bytes_received", rw);
  const auto& status = need_object(r, "status", rw);
  for (std::size_t i = 0; i < s.status_classes.size(); ++i) {
    s.status_classes[i] = u64(status, i == 0 ? "none" : (std::to_string(i) + "xx").c_str(), rw + ".status");
  }
  const auto& kinds = need_object(r, "error_kinds", rw);
  for (std::size_t i = 1; i < s.error_kinds.size(); ++i) {
    s.error_kinds[i] = u64(kinds, to_string(static_cast<RequestError>(i)), rw + ".error_kinds");
  }
  s.error_kinds[0] = s.completed - std::min(s.completed, [&] {
    std::uint64_t n = 0;
    for (std::size_t i = 1; i < s.error_kinds.size(); ++i) n += s.error_kinds[i];
    return n;
  }());
  s.latency = histogram_from_json(need(r, "latency", rw));
  s.service = histogram_from_json(need(r, "service_time", rw));
  s.connect = histogram_from_json(need(r, "connect_time", rw));
  const auto& tl = need_object(r, "timeline", rw);
  s.timeline_interval = std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(num(tl, "interval_seconds", rw) * 1e9)));
  const auto& points = need(tl, "points", rw + ".timeline");
  if (!points.is_array()) throw std::runtime_error(rw + ".timeline.points: must be an array");
  if (points.as_array().size() > RunStats::kMaxTimelinePoints) throw std::runtime_error(rw + ".timeline.points: too many");
  for (const auto& p : points.as_array()) {
    if (!p.is_object()) throw std::runtime_error(rw + ".timeline.points: want objects");
    TimelinePoint point(RunStats::kTimelineBits);
    point.completed = u64(p.as_object(), "completed", rw + ".timeline");
    point.errors = u64(p.as_object(), "errors", rw + ".timeline");
    point.latency = histogram_from_json(need(p.as_object(), "latency", rw + ".timeline"));
    s.timeline.push_back(std::move(point));
  }
  out.breakdown = breakdown_from_json(need(top, "breakdown", "report"));
  return out;
}

Report load_report_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const auto v = json::parse(text.str(), ec);
  if (ec) throw std::runtime_error(path + ": invalid JSON: " + ec.message());
  try {
    return report_from_json(v);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

std::string requests_to_jsonl(const RunResult& r, unsigned connections, bool traceparent) {
  const auto& s = r.stats;
  std::string out = json::serialize(json::object{{"format", "porthole-loadtest-requests/1"},
                                                 {"run_start_monotonic_ns", r.run_start_monotonic_ns},
                                                 {"trace_id_prefix", run_id_hex(r.run_id)},
                                                 {"connections", connections},
                                                 {"dumped", s.requests.size()},
                                                 {"not_dumped", s.requests_not_dumped}});
  out += '\n';
  std::vector<const RequestRecord*> order;
  for (const auto& q : s.requests) order.push_back(&q);
  std::stable_sort(order.begin(), order.end(),
                   [](const RequestRecord* a, const RequestRecord* b) { return a->intended_ns < b->intended_ns; });
  for (const auto* q : order) {
    json::object o{{"connection", q->connection},
                   {"index", q->index},
                   {"intended_ns", q->intended_ns},
                   {"dispatched_ns", q->dispatched_ns},
                   {"sent_ns", q->sent_ns < 0 ? json::value(nullptr) : json::value(q->sent_ns)},
                   {"done_ns", q->done_ns},
                   {"connect_ns", q->connect_ns},
                   {"status", q->status},
                   {"error", to_string(q->error)},
                   {"warmup", q->warmup}};
    if (traceparent) o["trace_id"] = trace_id_hex(r.run_id, q->connection, q->index);
    out += json::serialize(o);
    out += '\n';
  }
  return out;
}

std::string to_pretty_json(const json::value& v) {
  std::ostringstream out;
  pretty(out, v, 0);
  out << "\n";
  return out.str();
}

}  // namespace porthole::loadtest

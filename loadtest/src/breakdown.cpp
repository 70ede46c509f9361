#include "breakdown.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "porthole/telemetry/prom_text.hpp"

namespace porthole::loadtest {

namespace {

constexpr const char* kEnclaveFamily = "porthole_http_request_duration_seconds";
constexpr const char* kWorkloadFamily = "demo_request_duration_seconds";
constexpr const char* kSetupFamily = "porthole_relay_setup_duration_seconds";
constexpr const char* kEnclave = "enclave (agent)";
constexpr const char* kWorkload = "workload";

struct LatencySeries {
  std::map<std::string, std::string> labels;
  std::vector<std::pair<double, double>> buckets;  // (upper bound, cumulative count)
  double count = 0;
  double sum = 0;
};

std::string selector(const std::string& family, const std::map<std::string, std::string>& labels,
                     const std::string& extra = "") {
  std::string key = family + "{";
  for (const auto& [name, value] : labels) key += name + "=\"" + value + "\",";
  key += extra;
  if (key.back() == ',') key.pop_back();
  return key + "}";
}

// The family's series by selector.
std::map<std::string, LatencySeries> histograms(const std::vector<prometheus::MetricFamily>& families,
                                         const std::string& family) {
  std::map<std::string, LatencySeries> out;
  for (const auto& f : families) {
    if (f.name != family || f.type != prometheus::MetricType::Histogram) continue;
    for (const auto& m : f.metric) {
      LatencySeries s;
      for (const auto& l : m.label) s.labels[l.name] = l.value;
      s.count = static_cast<double>(m.histogram.sample_count);
      s.sum = m.histogram.sample_sum;
      for (const auto& b : m.histogram.bucket) s.buckets.emplace_back(b.upper_bound, static_cast<double>(b.cumulative_count));
      out[selector(family, s.labels)] = std::move(s);
    }
  }
  return out;
}

// The cumulative count at `bound`: that of the largest bucket bound <= it (exact when the
// layouts agree, as they do for series of one family).
double cumulative_at(const LatencySeries& s, double bound) {
  double c = 0;
  for (const auto& [b, n] : s.buckets) {
    if (b > bound) break;
    c = n;
  }
  return c;
}

void add_into(LatencySeries& total, const LatencySeries& s) {
  if (total.buckets.empty()) {
    total.buckets = s.buckets;
  } else {
    for (auto& [bound, n] : total.buckets) n += cumulative_at(s, bound);
  }
  total.count += s.count;
  total.sum += s.sum;
}

LatencySeries minus(const LatencySeries& after, const LatencySeries* before) {
  LatencySeries d = after;
  if (!before) return d;
  d.count -= before->count;
  d.sum -= before->sum;
  for (auto& [bound, n] : d.buckets) n -= cumulative_at(*before, bound);
  return d;
}

// histogram_quantile: linear interpolation inside the bucket holding the rank.
double quantile(double q, const std::vector<std::pair<double, double>>& buckets) {
  if (buckets.empty()) return 0;
  const double total = buckets.back().second;
  if (total <= 0) return 0;
  const double rank = q * total;
  double prev_bound = 0, prev_count = 0;
  for (const auto& [bound, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(bound)) return prev_bound;
      const double in_bucket = count - prev_count;
      return in_bucket <= 0 ? bound : prev_bound + (bound - prev_bound) * (rank - prev_count) / in_bucket;
    }
    prev_bound = bound;
    prev_count = count;
  }
  return prev_bound;
}

BreakdownEntry entry_of(std::string component, std::string metric, const std::string& source, const LatencySeries& d,
                        bool per_request) {
  BreakdownEntry e;
  e.component = std::move(component);
  e.metric = std::move(metric);
  e.source = source;
  e.per_request = per_request;
  e.count = d.count;
  e.mean_seconds = d.count > 0 ? d.sum / d.count : 0;
  e.p50_seconds = quantile(0.5, d.buckets);
  e.p90_seconds = quantile(0.9, d.buckets);
  e.p99_seconds = quantile(0.99, d.buckets);
  return e;
}

// The series of `family` as their change, grouped: `group_of` names a series' group ("" leaves
// it out); each group is summed. Groups that did not change are left out unless `keep_unchanged`.
// Returns (group selector, delta), largest count first.
template <class GroupOf>
std::vector<std::pair<std::string, LatencySeries>> changed_groups(const std::vector<prometheus::MetricFamily>& before,
                                                          const std::vector<prometheus::MetricFamily>& after,
                                                          const std::string& family, GroupOf group_of,
                                                          bool keep_unchanged = false) {
  const auto old = histograms(before, family);
  std::map<std::string, LatencySeries> groups;
  for (const auto& [key, series] : histograms(after, family)) {
    const auto it = old.find(key);
    const LatencySeries d = minus(series, it == old.end() ? nullptr : &it->second);
    if (d.count < 0 || (d.count == 0 && !keep_unchanged)) continue;  // < 0: the server restarted
    const std::string group = group_of(series.labels);
    if (!group.empty()) add_into(groups[group], d);
  }
  std::vector<std::pair<std::string, LatencySeries>> out(groups.begin(), groups.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
  return out;
}

const BreakdownEntry* largest(const Breakdown& b, const std::string& component) {
  const BreakdownEntry* best = nullptr;
  for (const auto& e : b.entries) {
    if (e.component == component && (!best || e.count > best->count)) best = &e;
  }
  return best;
}

std::string count_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", s);
  return buf;
}

// The group that counted most (changed_groups' first) becomes the component's entry; the others
// are noted, not used.
void add_largest(const char* component, const std::vector<std::pair<std::string, LatencySeries>>& groups,
                 const std::string& source, Breakdown& out) {
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i == 0) {
      out.entries.push_back(entry_of(component, groups[i].first, source, groups[i].second, true));
    } else {
      out.notes.push_back(groups[i].first + " at " + source + " also counted " + count_text(groups[i].second.count) +
                          " requests during the run (not used)");
    }
  }
}

}  // namespace

void add_breakdown(const std::string& before_text, const std::string& after_text, const std::string& source,
                   Breakdown& out) {
  add_breakdown(telemetry::parse_prometheus_text(before_text).families, after_text, source, out);
}

void add_breakdown(const std::vector<prometheus::MetricFamily>& before, const std::string& after_text,
                   const std::string& source, Breakdown& out) {
  const auto after = telemetry::parse_prometheus_text(after_text).families;

  // The agent's per-request histogram: one series per listener (and enclave); the run's is the
  // one that counted most.
  const auto enclave = changed_groups(before, after, kEnclaveFamily,
                                      [](const auto& labels) { return selector(kEnclaveFamily, labels); });
  add_largest(kEnclave, enclave, source, out);
  // The workload's handler: every path but the scrapes of its own /metrics, per target. Kept
  // even unchanged: a snapshot relayed by the agent can lag the run, and the end scrape is
  // repeated until it catches up (server_request_count).
  const auto workload = changed_groups(
      before, after, kWorkloadFamily,
      [](auto labels) {
        const auto path = labels.find("path");
        if (path != labels.end() && path->second == "/metrics") return std::string();
        labels.erase("path");
        return selector(kWorkloadFamily, labels, "path!=\"/metrics\"");
      },
      true);
  add_largest(kWorkload, workload, source, out);
  // Per connection: how long the ingress relays took to reach the far side.
  const auto ingress_setup = [](const std::map<std::string, std::string>& labels) {
    const auto path = labels.find("path");
    return path != labels.end() && path->second == "ingress" ? selector(kSetupFamily, labels) : std::string();
  };
  for (const auto& [key, d] : changed_groups(before, after, kSetupFamily, ingress_setup)) {
    const bool enclave_side = key.find("side=\"enclave\"") != std::string::npos;
    out.entries.push_back(entry_of(enclave_side ? "agent relay setup" : "sidecar relay setup", key, source, d, false));
  }
}

void finish_breakdown(const LatencyHistogram& client, Breakdown& out) {
  BreakdownEntry c;
  c.component = "client";
  c.metric = "service time: request written -> response read (every request with a response, warm-up included)";
  c.source = "porthole-loadtest";
  c.count = static_cast<double>(client.count());
  c.mean_seconds = client.mean() * 1e-9;
  c.p50_seconds = static_cast<double>(client.percentile(50)) * 1e-9;
  c.p90_seconds = static_cast<double>(client.percentile(90)) * 1e-9;
  c.p99_seconds = static_cast<double>(client.percentile(99)) * 1e-9;
  out.entries.insert(out.entries.begin(), c);

  const auto* const found_enclave = largest(out, kEnclave);
  const auto* const found_workload = largest(out, kWorkload);
  const auto* enclave = found_enclave && found_enclave->count > 0 ? found_enclave : nullptr;
  const auto* workload = found_workload && found_workload->count > 0 ? found_workload : nullptr;
  for (const auto* e : {found_enclave, found_workload}) {
    if (e && std::fabs(e->count - c.count) > std::max(1.0, 0.005 * c.count)) {
      out.notes.push_back(e->component + " counted " + count_text(e->count) + " requests, the client " +
                          count_text(c.count) +
                          " responses: other traffic on the server, or a snapshot older than the run's end; the "
                          "split compares means of different sets of requests");
    }
  }
  if (!enclave && !workload) return;
  TimeSplit split;
  split.client_seconds = c.mean_seconds;
  split.has_enclave = enclave != nullptr;
  split.has_workload = workload != nullptr;
  split.workload_seconds = workload ? workload->mean_seconds : 0;
  if (enclave) {
    split.outside_seconds = c.mean_seconds - enclave->mean_seconds;
    split.agent_seconds = enclave->mean_seconds - split.workload_seconds;
  } else {
    split.outside_seconds = c.mean_seconds - split.workload_seconds;
  }
  out.split = split;
}

std::optional<double> server_request_count(const Breakdown& b) {
  std::optional<double> n;
  for (const auto& e : b.entries) {
    if (e.component == kEnclave || e.component == kWorkload) n = std::min(n.value_or(e.count), e.count);
  }
  return n;
}

FetchResult fetch_http(const std::string& url, std::chrono::milliseconds timeout) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return {std::nullopt, "only http:// URLs can be scraped"};
  std::string rest = url.substr(prefix.size());
  const auto slash = rest.find('/');
  const std::string target = slash == std::string::npos ? "/metrics" : rest.substr(slash);
  const std::string hostport = rest.substr(0, slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return {std::nullopt, "want http://HOST:PORT/path"};
  std::string host = hostport.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return {std::nullopt, "the host must be a numeric IP address or localhost"};
  unsigned port = 0;
  try {
    port = static_cast<unsigned>(std::stoul(hostport.substr(colon + 1)));
  } catch (const std::exception&) {
    return {std::nullopt, "bad port"};
  }
  if (port == 0 || port > 65535) return {std::nullopt, "bad port"};

  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  boost::beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, hostport);
  req.set(http::field::user_agent, "porthole-loadtest");
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 << 20);
  FetchResult result;
  stream.expires_after(timeout);
  stream.async_connect(asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)),
                       [&](const boost::system::error_code& cec) {
    if (cec) {
      result.error = "connect: " + cec.message();
      return;
    }
    http::async_write(stream, req, [&](const boost::system::error_code& wec, std::size_t) {
      if (wec) {
        result.error = "write: " + wec.message();
        return;
      }
      http::async_read(stream, buffer, parser, [&](const boost::system::error_code& rec, std::size_t) {
        if (rec) {
          result.error = "read: " + rec.message();
          return;
        }
        if (parser.get().result_int() != 200) {
          result.error = "HTTP " + std::to_string(parser.get().result_int());
          return;
        }
        result.body = parser.get().body();
      });
    });
  });
  io.run();
  return result;
}

}  // namespace porthole::loadtest

// porthole-loadtest: the open-loop load generator. See docs/loadtest.md and loadtest/README.md.
#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/json.hpp>
#include <prometheus/exposer.h>

#include "breakdown.hpp"
#include "cli_options.hpp"
#include "compare.hpp"
#include "live_metrics.hpp"
#include "load_runner.hpp"
#include "porthole/common/file_util.hpp"
#include "porthole/telemetry/prom_text.hpp"
#include "report.hpp"
#include "report_html.hpp"
#include "slo_search.hpp"

namespace {

using namespace porthole::loadtest;
namespace asio = boost::asio;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) { g_stop.store(true); }

struct ParsedUrl {
  std::string scheme, host, port, path;
};

ParsedUrl parse_url(const std::string& url) {
  ParsedUrl u;
  const auto sep = url.find("://");
  if (sep == std::string::npos) throw UsageError("--url: '" + url + "' must start with http://, https:// or tcp://");
  u.scheme = url.substr(0, sep);
  if (u.scheme != "http" && u.scheme != "https" && u.scheme != "tcp") {
    throw UsageError("--url: scheme '" + u.scheme + "' must be http, https or tcp");
  }
  std::string rest = url.substr(sep + 3);
  const auto slash = rest.find('/');
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string hostport = rest.substr(0, slash);
  if (!hostport.empty() && hostport[0] == '[') {
    const auto close = hostport.find(']');
    if (close == std::string::npos) throw UsageError("--url: unbalanced [ in '" + url + "'");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') u.port = hostport.substr(close + 2);
  } else {
    const auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) u.port = hostport.substr(colon + 1);
  }
  if (u.port.empty()) {
    if (u.scheme == "tcp") throw UsageError("--url: tcp:// needs a port");
    u.port = u.scheme == "https" ? "443" : "80";
  }
  if (u.host.empty()) throw UsageError("--url: '" + url + "' has no host");
  return u;
}

void write_output(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text;
    return;
  }
  porthole::write_file_atomically(path, text);
}

int compare_command(const CliOptions& o) {
  try {
    const auto a = load_report_file(o.compare_a);
    const auto b = load_report_file(o.compare_b);
    const auto rows = compare_reports(a, b);
    if (o.compare_json) {
      std::cout << to_pretty_json(comparison_to_json(o.compare_a, o.compare_b, rows));
    } else {
      std::cout << format_comparison(o.compare_a, o.compare_b, rows);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "porthole-loadtest compare: " << e.what() << "\n";
    return 1;
  }
}

// Reads the --scrape endpoints before a run's first connection and after its last response. The
// end scrape is repeated while a per-request histogram counts fewer requests than the client got
// responses (the workload's histograms relayed by the agent are a periodic snapshot), for at
// most --scrape-wait.
struct Scraper {
  std::vector<std::string> urls;
  std::chrono::nanoseconds wait{0};
  std::vector<std::optional<std::vector<prometheus::MetricFamily>>> before;  // parsed once
  std::vector<std::string> before_notes;

  void take_before() {
    before.clear();
    before_notes.clear();
    for (const auto& u : urls) {
      auto r = fetch_http(u, std::chrono::seconds(5));
      if (!r.body) before_notes.push_back("scrape " + u + " at start failed: " + r.error);
      before.push_back(r.body ? std::optional(porthole::telemetry::parse_prometheus_text(*r.body).families) : std::nullopt);
    }
  }

  Breakdown take_after(const LatencyHistogram& client) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    const auto wanted = static_cast<double>(client.count());
    for (;;) {
      Breakdown b;
      b.notes = before_notes;
      for (std::size_t i = 0; i < urls.size(); ++i) {
        if (!before[i]) continue;
        auto r = fetch_http(urls[i], std::chrono::seconds(5));
        if (!r.body) {
          b.notes.push_back("scrape " + urls[i] + " at end failed: " + r.error);
          continue;
        }
        add_breakdown(*before[i], *r.body, urls[i], b);
      }
      const auto counted = server_request_count(b);
      const bool behind = counted && *counted < wanted;
      if (!behind || g_stop.load() || std::chrono::steady_clock::now() >= deadline) {
        if (behind) {
          b.notes.push_back("the server-side histograms still counted fewer requests than the client's responses "
                            "after --scrape-wait");
        }
        finish_breakdown(client, b);
        return b;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the next relayed snapshot
    }
  }
};

int run_command(const CliOptions& o) {
  const ParsedUrl url = parse_url(o.url);
  RunConfig config;
  config.url = o.url;
  config.rate = o.rate;
  config.connections = o.connections;
  config.threads = o.threads;
  config.duration = o.duration;
  config.requests = o.requests;
  config.warmup = o.warmup;
  config.jitter = o.jitter;
  config.timeout = o.timeout;
  config.late_threshold = o.late_threshold;
  config.seed = o.seed;
  config.traceparent = o.traceparent;
  config.dump_limit = o.dump_requests.empty() ? 0 : o.dump_limit;
  config.host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]:" + url.port
                                                                : url.host + ":" + url.port;
  config.target.protocol = url.scheme == "tcp" ? WireProtocol::Tcp : WireProtocol::Http;
  BuiltinOptions builtin{url.path, o.body_size, o.fields, o.field_size, o.cipher, o.curve};
  if (is_builtin_scenario(o.scenario)) {
    config.scenario = builtin_scenario(o.scenario, config.target.protocol, builtin);
  } else {
    config.scenario = load_scenario_file(o.scenario);
    if (config.scenario.protocol != config.target.protocol) {
      throw UsageError("--scenario: the file's protocol does not match the --url scheme");
    }
  }

  asio::io_context resolver_io;
  asio::ip::tcp::resolver resolver(resolver_io);
  boost::system::error_code ec;
  const auto resolved = resolver.resolve(url.host, url.port, ec);
  if (ec) throw UsageError("--url: cannot resolve '" + url.host + ":" + url.port + "': " + ec.message());
  for (const auto& e : resolved) config.target.endpoints.push_back(e.endpoint());

  std::unique_ptr<asio::ssl::context> tls;
  if (url.scheme == "https") {
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    if (o.insecure) {
      tls->set_verify_mode(asio::ssl::verify_none);
    } else {
      if (o.ca_file.empty()) {
        tls->set_default_verify_paths();
      } else {
        tls->load_verify_file(o.ca_file);
      }
      tls->set_verify_mode(asio::ssl::verify_peer);
      tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
    }
    config.target.tls = tls.get();
    // SNI carries host names only (RFC 6066), never IP literals.
    boost::system::error_code not_ip;
    asio::ip::make_address(url.host, not_ip);
    if (not_ip) config.target.server_name = url.host;
  }

  std::shared_ptr<LiveMetrics> live;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!o.metrics_listen.empty()) {
    live = std::make_shared<LiveMetrics>(o.threads);
    try {
      exposer = std::make_unique<prometheus::Exposer>(o.metrics_listen);
    } catch (const std::exception& e) {
      throw UsageError("--metrics-listen: cannot listen on '" + o.metrics_listen + "': " + e.what());
    }
    exposer->RegisterCollectable(live);
    const auto ports = exposer->GetListeningPorts();
    const std::string host = o.metrics_listen.substr(0, o.metrics_listen.rfind(':'));
    const std::string bound = host + ":" + (ports.empty() ? std::string("?") : std::to_string(ports.front()));
    if (!o.metrics_address_file.empty()) porthole::write_file_atomically(o.metrics_address_file, bound + "\n");
    std::cerr << "porthole-loadtest: live metrics at http://" << bound << "/metrics\n";
  }

  const std::string scenario_label = o.scenario;
  Scraper scraper;
  scraper.urls = o.scrape;
  scraper.wait = o.scrape_wait;
  auto run_once = [&](double rate, Breakdown& breakdown) {
    config.rate = rate;
    if (live) {
      live->set_target_rate(rate);
      live->set_running(true);
    }
    // Before the first connection, so the server-side histograms' change covers exactly this
    // run's requests (warm-up included; the client's side of the breakdown includes it too).
    if (!scraper.urls.empty()) scraper.take_before();
    RunResult r = run_load(config, live ? &live->counters() : nullptr, g_stop);
    if (!scraper.urls.empty()) breakdown = scraper.take_after(r.stats.responded);
    if (live) live->set_running(false);
    return r;
  };

  if (o.slo) {
    const auto result = search_slo(*o.slo, [&](double rate, Breakdown& breakdown) {
      std::cerr << "porthole-loadtest: SLO step at " << rate << "/s\n";
      return run_once(rate, breakdown);
    }, g_stop);
    if (!o.quiet) std::cout << format_slo(result);
    if (!o.json_path.empty()) write_output(o.json_path, to_pretty_json(slo_to_json(result, o.url, scenario_label)));
    if (!o.html_path.empty()) write_output(o.html_path, slo_to_html(result, o.url));
    return result.interrupted ? 130 : 0;
  }

  Report report;
  report.tool_version = PORTHOLE_VERSION;
  report.config = describe(config, scenario_label);
  report.result = run_once(o.rate, report.breakdown);
  if (!o.quiet) std::cout << format_summary(report);
  if (!o.json_path.empty()) write_output(o.json_path, to_pretty_json(report_to_json(report)));
  if (!o.html_path.empty()) write_output(o.html_path, report_to_html(report));
  if (!o.dump_requests.empty()) {
    write_output(o.dump_requests, requests_to_jsonl(report.result, config.connections, report.config.traceparent));
  }
  return report.result.interrupted ? 130 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CliOptions options;
  try {
    options = parse_cli(args);
  } catch (const UsageError& e) {
    std::cerr << "porthole-loadtest: " << e.what() << "\n(see porthole-loadtest --help)\n";
    return 2;
  }
  switch (options.command) {
    case CliOptions::Command::Help: std::cout << kLoadtestUsage; return 0;
    case CliOptions::Command::Version: std::cout << "porthole-loadtest " << PORTHOLE_VERSION << "\n"; return 0;
    case CliOptions::Command::Compare: return compare_command(options);
    case CliOptions::Command::Run: break;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  try {
    return run_command(options);
  } catch (const UsageError& e) {
    std::cerr << "porthole-loadtest: " << e.what() << "\n";
    return 2;
  } catch (const ScenarioError& e) {
    std::cerr << "porthole-loadtest: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "porthole-loadtest: " << e.what() << "\n";
    return 1;
  }
}

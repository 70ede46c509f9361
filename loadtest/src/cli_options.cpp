#include "cli_options.hpp"

#include <charconv>

#include "units.hpp"

namespace porthole::loadtest {

const char* const kLoadtestUsage =
    "usage: porthole-loadtest --url URL [options]\n"
    "       porthole-loadtest compare A.json B.json [--json]\n"
    "\n"
    "Open-loop load generator: requests go out at their intended times whatever the server does,\n"
    "and latency is measured from the intended time (coordinated omission corrected).\n"
    "\n"
    "  --url URL               http://HOST:PORT[/path], https://... or tcp://HOST:PORT (required)\n"
    "  --rate R                target requests/s over all connections (default 100; 0 = closed loop, max)\n"
    "  --connections N         keep-alive connections (default 10)\n"
    "  --threads N             worker threads, <= connections (default 1)\n"
    "  --duration D            measured time after warm-up (default 10s), e.g. 500ms, 30s, 2m\n"
    "  --requests N            stop after N requests instead (warm-up included)\n"
    "  --warmup D              not measured (default 1s; 0 to measure from the first request)\n"
    "  --jitter F              0..1: move each send time by up to +-F/2 of a connection's interval (default 0)\n"
    "  --timeout D             per request, connect included (default 10s)\n"
    "  --late-threshold D      sent this long after the intended time counts as late (default 1ms)\n"
    "  --seed N                jitter seed (default 1)\n"
    "  --scenario S            get (GET the URL's path, default), echo, field-encryption, or a JSON file\n"
    "  --body-size N           echo: body bytes (default 64)\n"
    "  --fields N              field-encryption: fields per document (default 16)\n"
    "  --field-size N          field-encryption: characters per field (default 32)\n"
    "  --cipher NAME           field-encryption: aes-256-gcm or chacha20-poly1305 (default: the workload's)\n"
    "  --curve NAME            field-encryption: p-256, p-384, x25519 or none (default: the workload's)\n"
    "  --traceparent on|off    HTTP: a W3C traceparent per request, trace-id = run id | connection | request\n"
    "                          (default on)\n"
    "  --insecure              https: do not verify the server certificate\n"
    "  --ca-file FILE          https: trust this CA bundle (default: the system's)\n"
    "  --json FILE             write the lossless JSON report\n"
    "  --html FILE             write the self-contained HTML report\n"
    "  --quiet                 no summary on stdout\n"
    "  --metrics-listen H:P    serve live Prometheus metrics at http://H:P/metrics while running\n"
    "  --metrics-address-file F  write the bound metrics HOST:PORT here (for port 0)\n"
    "  --scrape URL            a /metrics endpoint to read at the start and end of the measurement for\n"
    "                          the 'where the time went' breakdown (repeatable; e.g. the sidecar admin\n"
    "                          http://127.0.0.1:9901/metrics); also per SLO step\n"
    "  --scrape-wait D         repeat the end scrape until the per-request histograms count the client's\n"
    "                          responses (a relayed snapshot lags), for at most D (default 20s)\n"
    "  --dump-requests FILE    write every request's times, status and trace-id as JSON lines\n"
    "  --dump-limit N          at most N requests in the dump (default 100000)\n"
    "  --slo pP=D              SLO search, e.g. p99=50ms: step the rate up until pP exceeds D\n"
    "  --slo-errors F          SLO search error budget (default 0.1%)\n"
    "  --slo-start R           first rate (default 100)\n"
    "  --slo-step R            added per step (default 100)\n"
    "  --slo-max R             last rate tried (default 1000000)\n"
    "                          each step runs --warmup + --duration\n"
    "  --help, --version\n";

namespace {

template <class T>
T whole(const std::string& option, const std::string& v, T lo, T hi) {
  T out{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi) {
    throw UsageError(option + ": '" + v + "' must be a whole number " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return out;
}

std::chrono::nanoseconds duration(const std::string& option, const std::string& v, bool allow_zero) {
  const auto d = parse_duration(v);
  if (!d || (!allow_zero && d->count() == 0)) {
    throw UsageError(option + ": '" + v + "' must be a duration like 500ms, 10s, 2m" +
                     (allow_zero ? "" : " (more than 0)"));
  }
  return *d;
}

double number(const std::string& option, const std::string& v, double lo, double hi) {
  const auto n = parse_number(v);
  if (!n || *n < lo || *n > hi) {
    throw UsageError(option + ": '" + v + "' must be a number " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return *n;
}

SloSpec parse_slo(const std::string& v) {
  // pP=D
  const auto eq = v.find('=');
  if (v.empty() || v[0] != 'p' || eq == std::string::npos) throw UsageError("--slo: '" + v + "' must look like p99=50ms");
  SloSpec s;
  s.percentile = number("--slo", v.substr(1, eq - 1), 0, 100);
  s.threshold = duration("--slo", v.substr(eq + 1), false);
  return s;
}

}  // namespace

CliOptions parse_cli(const std::vector<std::string>& args) {
  CliOptions o;
  if (!args.empty() && args[0] == "compare") {
    o.command = CliOptions::Command::Compare;
    std::vector<std::string> files;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--json") {
        o.compare_json = true;
      } else if (!args[i].empty() && args[i][0] == '-') {
        throw UsageError("compare: unknown option " + args[i]);
      } else {
        files.push_back(args[i]);
      }
    }
    if (files.size() != 2) throw UsageError("compare: give exactly two report files, A.json B.json");
    o.compare_a = files[0];
    o.compare_b = files[1];
    return o;
  }
  bool duration_given = false, warmup_given = false;
  std::optional<SloSpec> slo;
  std::optional<double> slo_errors, slo_start, slo_step, slo_max;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.command = CliOptions::Command::Help;
      return o;
    }
    if (a == "--version") {
      o.command = CliOptions::Command::Version;
      return o;
    }
    if (a == "--insecure") {
      o.insecure = true;
      continue;
    }
    if (a == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + a + "'");
    if (i + 1 >= args.size()) throw UsageError(a + ": missing value (or unknown option)");
    const std::string& v = args[++i];
    if (a == "--url") {
      o.url = v;
    } else if (a == "--rate") {
      o.rate = number(a, v, 0, 1e8);
    } else if (a == "--connections") {
      o.connections = whole<unsigned>(a, v, 1, 100000);
    } else if (a == "--threads") {
      o.threads = whole<unsigned>(a, v, 1, 256);
    } else if (a == "--duration") {
      o.duration = duration(a, v, false);
      duration_given = true;
    } else if (a == "--requests") {
      o.requests = whole<std::uint64_t>(a, v, 1, UINT64_MAX / 2);
    } else if (a == "--warmup") {
      o.warmup = duration(a, v, true);
      warmup_given = true;
    } else if (a == "--jitter") {
      o.jitter = number(a, v, 0, 1);
    } else if (a == "--timeout") {
      o.timeout = duration(a, v, false);
    } else if (a == "--late-threshold") {
      o.late_threshold = duration(a, v, true);
    } else if (a == "--seed") {
      o.seed = whole<std::uint64_t>(a, v, 0, UINT64_MAX);
    } else if (a == "--scenario") {
      o.scenario = v;
    } else if (a == "--body-size") {
      o.body_size = whole<std::size_t>(a, v, 1, 64 << 20);
    } else if (a == "--fields") {
      o.fields = whole<unsigned>(a, v, 1, 100000);
    } else if (a == "--field-size") {
      o.field_size = whole<std::size_t>(a, v, 1, 1 << 20);
    } else if (a == "--cipher") {
      if (v != "aes-256-gcm" && v != "chacha20-poly1305") {
        throw UsageError(a + ": '" + v + "' must be aes-256-gcm or chacha20-poly1305");
      }
      o.cipher = v;
    } else if (a == "--curve") {
      if (v != "p-256" && v != "p-384" && v != "x25519" && v != "none") {
        throw UsageError(a + ": '" + v + "' must be p-256, p-384, x25519 or none");
      }
      o.curve = v;
    } else if (a == "--traceparent") {
      if (v != "on" && v != "off") throw UsageError(a + ": '" + v + "' must be on or off");
      o.traceparent = v == "on";
    } else if (a == "--scrape-wait") {
      o.scrape_wait = duration(a, v, true);
    } else if (a == "--dump-requests") {
      o.dump_requests = v;
    } else if (a == "--dump-limit") {
      o.dump_limit = whole<std::size_t>(a, v, 1, 10000000);
    } else if (a == "--ca-file") {
      o.ca_file = v;
    } else if (a == "--json") {
      o.json_path = v;
    } else if (a == "--html") {
      o.html_path = v;
    } else if (a == "--metrics-listen") {
      o.metrics_listen = v;
    } else if (a == "--metrics-address-file") {
      o.metrics_address_file = v;
    } else if (a == "--scrape") {
      o.scrape.push_back(v);
    } else if (a == "--slo") {
      slo = parse_slo(v);
    } else if (a == "--slo-errors") {
      const auto f = parse_fraction(v);
      if (!f) throw UsageError(a + ": '" + v + "' must be a fraction like 0.1% or 0.001");
      slo_errors = *f;
    } else if (a == "--slo-start") {
      slo_start = number(a, v, 0.001, 1e8);
    } else if (a == "--slo-step") {
      slo_step = number(a, v, 0.001, 1e8);
    } else if (a == "--slo-max") {
      slo_max = number(a, v, 0.001, 1e8);
    } else {
      throw UsageError("unknown option " + a);
    }
  }
  if (o.url.empty()) throw UsageError("--url is required (http://HOST:PORT/path, https://... or tcp://HOST:PORT)");
  if (o.requests && duration_given) throw UsageError("give --duration or --requests, not both");
  if (o.requests) {
    o.duration.reset();
    if (!warmup_given) o.warmup = std::chrono::nanoseconds(0);
  }
  if (o.threads > o.connections) throw UsageError("--threads must not exceed --connections");
  if (o.rate > 0 && o.rate / o.connections > 1e7) throw UsageError("--rate: more than 10M/s per connection");
  if (!slo && (slo_errors || slo_start || slo_step || slo_max)) throw UsageError("--slo-* options need --slo pP=D");
  if ((!o.cipher.empty() || !o.curve.empty()) && o.scenario != "field-encryption") {
    throw UsageError("--cipher and --curve are for --scenario field-encryption");
  }
  if (slo) {
    if (o.requests) throw UsageError("--slo steps run for --duration; --requests does not apply");
    if (!o.dump_requests.empty()) throw UsageError("--dump-requests is for a single run, not --slo");
    if (slo_errors) slo->error_budget = *slo_errors;
    if (slo_start) slo->start_rate = *slo_start;
    if (slo_step) slo->step_rate = *slo_step;
    if (slo_max) slo->max_rate = *slo_max;
    if (slo->max_rate < slo->start_rate) throw UsageError("--slo-max must be >= --slo-start");
    o.slo = slo;
  }
  return o;
}

}  // namespace porthole::loadtest

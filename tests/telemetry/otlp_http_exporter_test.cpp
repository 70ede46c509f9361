#include "porthole/telemetry/otlp_http_exporter.hpp"

#include <chrono>
#include <cstdio>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "fake_collector.hpp"
#include "porthole/common/manual_time.hpp"
#include "porthole/telemetry/gzip.hpp"

namespace porthole::telemetry {
namespace {

using namespace std::chrono_literals;
using testing::FakeCollector;
using testing::ScriptedResponse;

class OtlpHttpExporterTest : public ::testing::Test {
 protected:
  OtlpExporterConfig config() const {
    OtlpExporterConfig c;
    c.endpoint = collector.url();
    return c;
  }

  std::unique_ptr<OtlpHttpExporter> make(OtlpExporterConfig c) {
    OtlpHttpExporter::Options options;
    options.uniform01 = [] { return 1.0; };  // jitter off: delays are the backoff ceilings
    options.on_response = [this](OtlpSignal s, unsigned status, std::string_view body) {
      responses.push_back({s, status, std::string(body)});
    };
    return std::make_unique<OtlpHttpExporter>(io.get_executor(), time, registry, std::move(c), std::move(options));
  }

  // Runs the io_context until `done` holds; false after 5 s of real time (a hung test fails).
  template <typename Pred>
  bool run_until(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io.stopped()) io.restart();
      io.run_one_for(10ms);
    }
    return true;
  }

  // Runs whatever is ready right now (no waiting): proves something did NOT happen yet.
  void run_ready() {
    if (io.stopped()) io.restart();
    io.poll();
  }

  // Queues one request whose first answer is scripted to ask for a retry, and checks that the
  // retry goes out exactly `wait` later (not 1 ms sooner) and is delivered.
  void expect_retry_exactly_after(OtlpHttpExporter& exporter, OtlpSignal signal, Duration wait) {
    ASSERT_TRUE(exporter.enqueue(signal, "items", 1));
    ASSERT_TRUE(run_until([&] { return exporter.waiting_to_retry(signal); }));
    time.advance(wait - 1ms);
    run_ready();
    EXPECT_TRUE(exporter.waiting_to_retry(signal)) << "retried sooner than " << wait.count() << " ns";
    EXPECT_EQ(collector.requests().size(), 1u);
    time.advance(1ms);
    ASSERT_TRUE(run_until([&] { return exporter.idle(); }));
    EXPECT_EQ(collector.requests().size(), 2u);
    EXPECT_EQ(metric("porthole_exporter_items_exported_total", {{"signal", std::string(to_string(signal))}}), 1);
  }

  double metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    for (const auto& family : registry.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        bool match = true;
        for (const auto& [k, v] : labels) {
          bool found = false;
          for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
          match = match && found;
        }
        if (!match) continue;
        switch (family.type) {
          case prometheus::MetricType::Counter: return m.counter.value;
          case prometheus::MetricType::Gauge: return m.gauge.value;
          case prometheus::MetricType::Histogram: return static_cast<double>(m.histogram.sample_count);
          default: return -1;
        }
      }
    }
    ADD_FAILURE() << "no series " << name;
    return -1;
  }
  double dropped(const std::string& signal, const std::string& reason) {
    return metric("porthole_exporter_items_dropped_total", {{"signal", signal}, {"reason", reason}});
  }
  double attempts(const std::string& signal, const std::string& outcome) {
    return metric("porthole_exporter_requests_total", {{"signal", signal}, {"outcome", outcome}});
  }

  struct Response {
    OtlpSignal signal;
    unsigned status;
    std::string body;
  };

  boost::asio::io_context io;
  ManualTimeSource time;
  prometheus::Registry registry;
  FakeCollector collector{io};
  std::vector<Response> responses;
};

TEST_F(OtlpHttpExporterTest, PostsEachSignalToItsPathOverOneKeepAliveConnection) {
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "span-bytes", 3));
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "more-spans", 2));
  EXPECT_TRUE(collector.requests().empty()) << "enqueue must not do I/O itself";
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));

  ASSERT_EQ(collector.requests().size(), 2u);
  const auto& r = collector.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/traces");
  EXPECT_EQ(r.body, "span-bytes");
  EXPECT_EQ(r.headers.at("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.headers.count("content-encoding"), 0u);
  EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(collector.port()));
  EXPECT_EQ(collector.requests()[1].body, "more-spans");
  EXPECT_EQ(collector.connections(), 1u) << "requests of one signal share a keep-alive connection";

  EXPECT_EQ(metric("porthole_exporter_items_exported_total", {{"signal", "traces"}, {"side", "parent"}}), 5);
  EXPECT_EQ(attempts("traces", "success"), 2);
  EXPECT_EQ(metric("porthole_exporter_request_duration_seconds", {{"signal", "traces"}}), 2);
  EXPECT_EQ(metric("porthole_exporter_queue_bytes"), 0);
  EXPECT_EQ(metric("porthole_exporter_queue_requests"), 0);
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 1);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 200u);
}

TEST_F(OtlpHttpExporterTest, JsonEncodingAndPerSignalEndpoints) {
  auto c = config();
  c.encoding = OtlpExporterConfig::Encoding::Json;
  c.signal_endpoints[OtlpSignal::Metrics] = collector.url() + "/custom/metrics";
  auto exporter = make(c);
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Logs, "{}", 1));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Metrics, "{}", 1));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  ASSERT_EQ(collector.requests().size(), 2u);
  EXPECT_EQ(collector.requests()[0].target, "/v1/logs");
  EXPECT_EQ(collector.requests()[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(collector.requests()[1].target, "/custom/metrics");
}

TEST_F(OtlpHttpExporterTest, SignalWithoutEndpointIsDroppedAsDisabled) {
  OtlpExporterConfig c;
  c.signal_endpoints[OtlpSignal::Traces] = collector.url() + "/v1/traces";
  auto exporter = make(c);
  EXPECT_FALSE(exporter->enqueue(OtlpSignal::Logs, "x", 4));
  EXPECT_EQ(dropped("logs", "disabled"), 4);
  EXPECT_TRUE(exporter->idle());
}

TEST_F(OtlpHttpExporterTest, ConfiguredHeadersAreSent) {
  auto c = config();
  c.headers["Authorization"] = "Bearer s3cret";
  c.headers["X-Tenant"] = "blue";
  auto exporter = make(c);
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "x", 1));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  ASSERT_EQ(collector.requests().size(), 1u);
  EXPECT_EQ(collector.requests()[0].headers.at("authorization"), "Bearer s3cret");
  EXPECT_EQ(collector.requests()[0].headers.at("x-tenant"), "blue");
}

TEST_F(OtlpHttpExporterTest, GzipBodyDecompressesToTheOriginal) {
  auto c = config();
  c.compression = OtlpExporterConfig::Compression::Gzip;
  auto exporter = make(c);
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "span name=GET /api/orders service=demo ";
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, body, 100));
  // The buffer holds (and counts) the compressed form.
  EXPECT_GT(exporter->queued_bytes(), 0u);
  EXPECT_LT(exporter->queued_bytes(), body.size() / 10);
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  ASSERT_EQ(collector.requests().size(), 1u);
  const auto& r = collector.requests()[0];
  EXPECT_EQ(r.headers.at("content-encoding"), "gzip");
  auto plain = gzip_decompress(r.body, 10u << 20);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(*plain, body);
}

TEST_F(OtlpHttpExporterTest, Retries503ThenExportsOnce) {
  collector.script({.status = 503});
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "spans", 7));
  ASSERT_TRUE(run_until([&] { return exporter->waiting_to_retry(OtlpSignal::Traces); }));
  EXPECT_EQ(attempts("traces", "retryable_status"), 1);
  EXPECT_EQ(metric("porthole_exporter_retries_total", {{"signal", "traces"}}), 1);
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 1) << "the collector answered (503)";
  EXPECT_EQ(metric("porthole_exporter_queue_requests"), 1);

  time.advance(999ms);  // first backoff = initial_backoff (1 s) with jitter pinned to its ceiling
  EXPECT_TRUE(exporter->waiting_to_retry(OtlpSignal::Traces));
  time.advance(1ms);
  EXPECT_FALSE(exporter->waiting_to_retry(OtlpSignal::Traces));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));

  EXPECT_EQ(collector.requests().size(), 2u);
  EXPECT_EQ(metric("porthole_exporter_items_exported_total", {{"signal", "traces"}}), 7);
  EXPECT_EQ(attempts("traces", "success"), 1);
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 1);
  for (auto reason : {"buffer_full", "rejected_4xx", "rejected_5xx", "retry_expired", "shutdown"}) {
    EXPECT_EQ(dropped("traces", reason), 0) << reason;
  }
}

TEST_F(OtlpHttpExporterTest, HonoursRetryAfterSeconds) {
  collector.script({.status = 429, .headers = {{"Retry-After", "2"}}});
  auto c = config();
  c.initial_backoff = 100ms;  // our own backoff would come back far sooner than the collector asks
  auto exporter = make(c);
  expect_retry_exactly_after(*exporter, OtlpSignal::Logs, 2s);
}

// Retry-After as an HTTP-date, `seconds` after the time source's wall clock.
std::string http_date_after(std::chrono::system_clock::time_point now, std::chrono::seconds seconds) {
  using namespace std::chrono;
  const auto t = floor<std::chrono::seconds>(now) + seconds;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char out[64];
  std::snprintf(out, sizeof out, "%s, %02u %s %04d %02d:%02d:%02d GMT", kDays[weekday{day}.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return out;
}

TEST_F(OtlpHttpExporterTest, HonoursRetryAfterHttpDate) {
  collector.script({.status = 503, .headers = {{"Retry-After", http_date_after(time.system_now(), 3s)}}});
  auto c = config();
  c.initial_backoff = 100ms;
  auto exporter = make(c);
  expect_retry_exactly_after(*exporter, OtlpSignal::Traces, 3s);
}

TEST_F(OtlpHttpExporterTest, HeaderInjectionIsRefused) {
  auto c = config();
  c.headers["X-Evil"] = "a\r\nHost: elsewhere";
  EXPECT_THROW(make(c), ConfigError);
}

TEST_F(OtlpHttpExporterTest, RetryAfterLongerThanMaxBackoffIsHonouredExactly) {
  collector.script({.status = 503, .headers = {{"Retry-After", "60"}}});
  auto c = config();
  c.max_backoff = 5s;  // our own backoff would never wait this long; the collector's word wins
  auto exporter = make(c);
  expect_retry_exactly_after(*exporter, OtlpSignal::Metrics, 60s);
}

TEST_F(OtlpHttpExporterTest, RetryAfterBeyondTheRetryBudgetGivesUpAtOnce) {
  collector.script({.status = 503, .headers = {{"Retry-After", "3600"}}});
  collector.script({.status = 429, .headers = {{"Retry-After", "99999999999999999999999"}}});  // saturates
  collector.script({.status = 503, .headers = {{"Retry-After", "2"}}});
  collector.script({.status = 503, .headers = {{"Retry-After", "2"}}});
  auto c = config();
  c.max_elapsed = 3s;
  auto exporter = make(c);
  // An hour (or "forever") is beyond max_elapsed: dropped at once, no timer left waiting.
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "a", 4));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(dropped("traces", "retry_expired"), 4);
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "b", 5));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(dropped("traces", "retry_expired"), 4 + 5);
  EXPECT_FALSE(exporter->waiting_to_retry(OtlpSignal::Traces));
  EXPECT_EQ(metric("porthole_exporter_retries_total", {{"signal", "traces"}}), 0);
  // 2 s fits the 3 s budget once; the second 2 s wait would end at 4 s: given up then, not later.
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "c", 6));
  ASSERT_TRUE(run_until([&] { return exporter->waiting_to_retry(OtlpSignal::Traces); }));
  time.advance(2s);
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(collector.requests().size(), 4u);
  EXPECT_EQ(dropped("traces", "retry_expired"), 4 + 5 + 6);
  EXPECT_EQ(metric("porthole_exporter_retries_total", {{"signal", "traces"}}), 1);
}

TEST_F(OtlpHttpExporterTest, RetryAfterZeroFallsBackToOurOwnBackoff) {
  collector.script({.status = 503, .headers = {{"Retry-After", "0"}}});
  auto exporter = make(config());
  // initial_backoff (1 s, jitter pinned): a collector answering "0" cannot make us spin.
  expect_retry_exactly_after(*exporter, OtlpSignal::Traces, 1s);
}

// porthole_exporter_up says whether the collector answered, whatever the status: one rejected
// request is not an outage (PortholeTelemetryExportFailing looks at outcomes over time).
TEST_F(OtlpHttpExporterTest, UpMeansTheCollectorAnsweredTheLatestAttempt) {
  collector.script({.status = 400});
  collector.script({.hang = true});
  auto c = config();
  c.timeout = 1s;
  auto exporter = make(c);
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 1) << "1 before any attempt";
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "bad", 1));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(dropped("traces", "rejected_4xx"), 1);
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 1) << "a 400 is an answer";
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "slow", 1));
  ASSERT_TRUE(run_until([&] { return collector.requests().size() == 2; }));
  time.advance(1s);
  ASSERT_TRUE(run_until([&] { return exporter->waiting_to_retry(OtlpSignal::Traces); }));
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 0) << "a timeout is not";
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "logs"}}), 1) << "per signal";
  time.advance(1s);
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 1);
}

TEST_F(OtlpHttpExporterTest, ClientErrorIsDroppedNotRetried) {
  collector.script({.status = 400, .body = "bad request: field 3\x01 wrong"});
  collector.script({.status = 500});
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "spans", 5));
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "spans", 2));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(collector.requests().size(), 2u) << "neither request is retried";
  EXPECT_FALSE(exporter->waiting_to_retry(OtlpSignal::Traces));
  EXPECT_EQ(dropped("traces", "rejected_4xx"), 5);
  EXPECT_EQ(dropped("traces", "rejected_5xx"), 2);
  EXPECT_EQ(attempts("traces", "rejected"), 2);
  EXPECT_EQ(metric("porthole_exporter_retries_total", {{"signal", "traces"}}), 0);
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 1) << "rejections are answers";
  EXPECT_TRUE(responses.empty()) << "the response callback is for 2xx only";
}

TEST_F(OtlpHttpExporterTest, CollectorDownRetriesWithBackoffThenExpires) {
  std::string closed_url;
  {  // a port nobody listens on: bind, note it, close
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed_url = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port());
  }
  OtlpExporterConfig c;
  c.endpoint = closed_url;
  c.initial_backoff = 1s;
  c.max_backoff = 30s;
  c.max_elapsed = 10s;
  auto exporter = make(c);
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "spans", 9));
  // Delays 1 s, 2 s, 4 s; the next (8 s) would end after 15 s > max_elapsed, so it gives up.
  for (auto delay : {1s, 2s, 4s}) {
    ASSERT_TRUE(run_until([&] { return exporter->waiting_to_retry(OtlpSignal::Traces); }));
    time.advance(delay - 1ms);
    EXPECT_TRUE(exporter->waiting_to_retry(OtlpSignal::Traces)) << "backoff shorter than expected";
    time.advance(1ms);
  }
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(attempts("traces", "connection_error"), 4);
  EXPECT_EQ(metric("porthole_exporter_retries_total", {{"signal", "traces"}}), 3);
  EXPECT_EQ(dropped("traces", "retry_expired"), 9);
  EXPECT_EQ(metric("porthole_exporter_up", {{"signal", "traces"}}), 0);
}

TEST_F(OtlpHttpExporterTest, TimeoutIsRetried) {
  collector.script({.hang = true});
  auto c = config();
  c.timeout = 10s;
  auto exporter = make(c);
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "spans", 1));
  ASSERT_TRUE(run_until([&] { return collector.requests().size() == 1; }));
  time.advance(10s);
  ASSERT_TRUE(run_until([&] { return exporter->waiting_to_retry(OtlpSignal::Traces); }));
  EXPECT_EQ(attempts("traces", "timeout"), 1);
  time.advance(1s);
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(collector.requests().size(), 2u);
  EXPECT_EQ(collector.connections(), 2u) << "a timed-out connection is not reused";
}

TEST_F(OtlpHttpExporterTest, FullBufferDropsAtOnce) {
  collector.script({.hang = true});
  collector.script({.hang = true});
  auto c = config();
  c.max_queue_requests = 2;
  c.max_queue_bytes = 100;
  auto exporter = make(c);
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "a", 1));
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Logs, "b", 1));
  EXPECT_FALSE(exporter->enqueue(OtlpSignal::Traces, "c", 11));  // a third request
  EXPECT_EQ(dropped("traces", "buffer_full"), 11);
  EXPECT_EQ(exporter->queued_requests(), 2u);
  EXPECT_EQ(metric("porthole_exporter_queue_requests"), 2);
  EXPECT_EQ(metric("porthole_exporter_queue_bytes"), 2);
  ASSERT_TRUE(run_until([&] { return collector.requests().size() == 2; }));
  time.advance(10s);  // both requests time out; they stay buffered, waiting to retry
  ASSERT_TRUE(run_until([&] {
    return exporter->waiting_to_retry(OtlpSignal::Traces) && exporter->waiting_to_retry(OtlpSignal::Logs);
  }));
  EXPECT_EQ(exporter->queued_requests(), 2u);
  EXPECT_FALSE(exporter->enqueue(OtlpSignal::Metrics, "m", 3));  // still two requests
  c.max_queue_requests = 10;
  // The byte bound on its own (a fresh exporter; the series are shared through the registry).
  exporter.reset();
  exporter = make(c);
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Metrics, std::string(60, 'x'), 1));
  EXPECT_FALSE(exporter->enqueue(OtlpSignal::Metrics, std::string(41, 'x'), 3));
  EXPECT_TRUE(exporter->enqueue(OtlpSignal::Metrics, std::string(40, 'x'), 3));
  EXPECT_EQ(dropped("metrics", "buffer_full"), 3 + 3);
}

TEST_F(OtlpHttpExporterTest, ReconnectsWhenTheCollectorClosedAnIdleConnection) {
  collector.script({.close_after = true});
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "one", 1));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "two", 1));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  EXPECT_EQ(metric("porthole_exporter_items_exported_total", {{"signal", "traces"}}), 2);
  EXPECT_EQ(metric("porthole_exporter_retries_total", {{"signal", "traces"}}), 0);
  EXPECT_EQ(collector.connections(), 2u);
}

TEST_F(OtlpHttpExporterTest, ShutdownFlushesWhatIsQueued) {
  collector.script({.status = 503});
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "spans", 4));
  ASSERT_TRUE(run_until([&] { return exporter->waiting_to_retry(OtlpSignal::Traces); }));
  bool done = false;
  exporter->shutdown(5s, [&] { done = true; });  // the waiting retry goes out at once
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_EQ(metric("porthole_exporter_items_exported_total", {{"signal", "traces"}}), 4);
  EXPECT_FALSE(exporter->enqueue(OtlpSignal::Traces, "late", 6));
  EXPECT_EQ(dropped("traces", "shutdown"), 6);
}

TEST_F(OtlpHttpExporterTest, ShutdownDropsWhatCannotBeDeliveredByTheDeadline) {
  collector.script({.hang = true});
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "a", 2));
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "b", 3));
  ASSERT_TRUE(run_until([&] { return collector.requests().size() == 1; }));
  bool done = false;
  exporter->shutdown(1s, [&] { done = true; });
  run_ready();
  EXPECT_FALSE(done);
  time.advance(1s);
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_EQ(dropped("traces", "shutdown"), 5);
  EXPECT_TRUE(exporter->idle());
  EXPECT_EQ(metric("porthole_exporter_queue_bytes"), 0);
}

TEST_F(OtlpHttpExporterTest, ResponseBodyGoesToTheCallback) {
  collector.script({.status = 200, .body = "partial"});
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Logs, "x", 1));
  ASSERT_TRUE(run_until([&] { return exporter->idle(); }));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].signal, OtlpSignal::Logs);
  EXPECT_EQ(responses[0].body, "partial");
}

TEST_F(OtlpHttpExporterTest, DestroyingWithARequestInFlightIsSafe) {
  collector.script({.hang = true});
  auto exporter = make(config());
  ASSERT_TRUE(exporter->enqueue(OtlpSignal::Traces, "a", 1));
  ASSERT_TRUE(run_until([&] { return collector.requests().size() == 1; }));
  exporter.reset();
  io.poll();  // the abandoned read completes without touching the exporter
  SUCCEED();
}

}  // namespace
}  // namespace porthole::telemetry

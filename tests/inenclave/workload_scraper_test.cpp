// WorkloadScraper against a tiny HTTP server on 127.0.0.1:0 that answers each connection with
// a canned response (or never answers). Real sockets; the scrape interval and timeouts run on
// manual time.
#include "porthole/agent/workload_scraper.hpp"

#include <deque>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "porthole/common/manual_time.hpp"
#include "porthole/telemetry/prom_text.hpp"
#include "workload_test_support.hpp"

namespace porthole::agent {
namespace {

using boost::asio::ip::tcp;
using porthole::testing::metric;
using porthole::testing::run_until;
using ::testing::HasSubstr;
using ::testing::Not;

// Serves one canned response per connection; an empty response means "accept, read the
// request, answer nothing" (a hung workload).
class CannedServer {
 public:
  explicit CannedServer(boost::asio::io_context& io) : acceptor_(io, tcp::endpoint(tcp::v4(), 0)) {
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void respond(std::string raw) { responses_.push_back(std::move(raw)); }
  void respond_ok(const std::string& body) {
    respond("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  }
  std::size_t requests() const { return requests_; }
  const std::string& last_request() const { return last_request_; }

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    boost::asio::streambuf in;
    std::string out;
  };
  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) return;
      auto c = std::make_shared<Conn>(std::move(s));
      boost::asio::async_read_until(c->socket, c->in, "\r\n\r\n", [this, c](const boost::system::error_code& e,
                                                                             std::size_t n) {
        if (e) return;
        ++requests_;
        last_request_.assign(boost::asio::buffers_begin(c->in.data()), boost::asio::buffers_begin(c->in.data()) + n);
        c->out = responses_.empty() ? std::string() : responses_.front();
        if (responses_.size() > 1) responses_.pop_front();
        if (c->out.empty()) {
          held_.push_back(c);  // never answers
          return;
        }
        boost::asio::async_write(c->socket, boost::asio::buffer(c->out), [c](const boost::system::error_code&, std::size_t) {
          boost::system::error_code ignored;
          c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        });
      });
      accept();
    });
  }
  tcp::acceptor acceptor_;
  std::deque<std::string> responses_;
  std::vector<std::shared_ptr<Conn>> held_;
  std::size_t requests_ = 0;
  std::string last_request_;
};

class WorkloadScraperTest : public ::testing::Test {
 protected:
  WorkloadScraperTest() : server_(io_) {}

  void configure(std::size_t targets = 1) {
    for (std::size_t i = 0; i < targets; ++i) {
      ScrapeTargetConfig t;
      t.name = "app" + std::to_string(i);
      t.url = "http://127.0.0.1:" + std::to_string(server_.port()) + "/metrics";
      parse_scrape_url(t.url, t.host, t.port, t.path);
      t.interval = std::chrono::seconds(15);
      t.timeout = std::chrono::seconds(5);
      config_.targets.push_back(t);
    }
  }
  WorkloadScraper& scraper() {
    if (!scraper_) {
      if (config_.targets.empty()) configure();
      scraper_ = std::make_unique<WorkloadScraper>(io_.get_executor(), time_, config_, policy_, registry_, nullptr);
    }
    return *scraper_;
  }
  // Starts (or lets the next interval fire) and runs until the target's scrape completed.
  void scrape_once(std::size_t target = 0) {
    const auto before = scraper().completed_scrapes(target);
    if (!started_) {
      scraper().start();
      started_ = true;
      time_.advance(Duration::zero());
    } else {
      time_.advance(config_.targets[target].interval);
    }
    ASSERT_TRUE(run_until(io_, [&] { return scraper().completed_scrapes(target) > before; }));
  }
  std::string exposition() {
    std::vector<prometheus::MetricFamily> families;
    scraper().append_to(families);
    return prometheus::TextSerializer().Serialize(families);
  }
  double up(const std::string& target = "app0") { return metric(registry_, "porthole_workload_up", {{"target", target}}); }
  double errors(const std::string& reason, const std::string& target = "app0") {
    return metric(registry_, "porthole_workload_scrape_errors_total", {{"target", target}, {"reason", reason}});
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  CannedServer server_;
  WorkloadMetricsConfig config_;
  telemetry::TelemetryPolicy policy_ = telemetry::default_telemetry_policy();
  prometheus::Registry registry_;
  std::unique_ptr<WorkloadScraper> scraper_;
  bool started_ = false;
};

const std::string kBody =
    "# HELP demo_requests_total Requests.\n"
    "# TYPE demo_requests_total counter\n"
    "demo_requests_total{path=\"/a\",code=\"200\"} 5 1700000000000\n"
    "demo_requests_total{path=\"/b\",code=\"500\"} 1\n"
    "# TYPE demo_temperature gauge\n"
    "demo_temperature 21.5\n";

TEST_F(WorkloadScraperTest, RelaysTheWorkloadsFamiliesWithATargetLabelAndNoTimestamps) {
  server_.respond_ok(kBody);
  scrape_once();
  EXPECT_EQ(up(), 1);
  EXPECT_EQ(metric(registry_, "porthole_workload_scrape_samples", {{"target", "app0"}}), 3);
  const auto text = exposition();
  EXPECT_THAT(text, HasSubstr("demo_requests_total{code=\"200\",path=\"/a\",target=\"app0\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("demo_requests_total{code=\"500\",path=\"/b\",target=\"app0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("demo_temperature{target=\"app0\"} 21.5\n"));
  EXPECT_THAT(text, Not(HasSubstr("1700000000000")));
  EXPECT_THAT(server_.last_request(), HasSubstr("GET /metrics HTTP/1.1\r\n"));
  // The relayed text is valid for the sidecar's parser.
  EXPECT_TRUE(telemetry::parse_prometheus_text(text).errors.empty());
}

TEST_F(WorkloadScraperTest, ScrapesEveryIntervalAndAppliesThePolicy) {
  policy_.metric_names.deny = {"secret_*"};
  policy_.metric_labels.deny = {"user"};
  policy_.max_series_per_family = 2;
  server_.respond_ok(
      "# TYPE secret_tokens gauge\nsecret_tokens 3\n"
      "# TYPE logins_total counter\n"
      "logins_total{user=\"alice\",method=\"pw\"} 1\n"
      "logins_total{user=\"bob\",method=\"pw\"} 2\n"
      "logins_total{user=\"carol\",method=\"sso\"} 3\n"
      "# TYPE many gauge\nmany{i=\"1\"} 1\nmany{i=\"2\"} 2\nmany{i=\"3\"} 3\n");
  scrape_once();
  const auto text = exposition();
  EXPECT_THAT(text, Not(HasSubstr("secret_tokens")));
  EXPECT_THAT(text, Not(HasSubstr("alice")));
  EXPECT_THAT(text, Not(HasSubstr("user=")));
  // bob's series became a duplicate of alice's once `user` was removed: only the first is kept.
  EXPECT_THAT(text, HasSubstr("logins_total{method=\"pw\",target=\"app0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("logins_total{method=\"sso\",target=\"app0\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("many{i=\"2\",target=\"app0\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("many{i=\"3\"")));  // beyond the series cap
  EXPECT_EQ(server_.requests(), 1u);
  scrape_once();
  EXPECT_EQ(server_.requests(), 2u);
}

TEST_F(WorkloadScraperTest, WorkloadTargetEnclaveAndSideLabelsAreKeptAsExported) {
  server_.respond_ok("# TYPE x gauge\nx{target=\"db\",side=\"parent\",enclave=\"e\"} 1\n");
  scrape_once();
  EXPECT_THAT(exposition(),
              HasSubstr("x{exported_enclave=\"e\",exported_side=\"parent\",exported_target=\"db\",target=\"app0\"} 1\n"));
}

// A workload that already has exported_target (and target): neither value is lost, as with
// Prometheus's honor_labels: false.
TEST_F(WorkloadScraperTest, AnExportedLabelTheWorkloadAlreadyHasIsNotOverwritten) {
  server_.respond_ok("# TYPE x gauge\nx{target=\"db\",exported_target=\"old\"} 1\nx{target=\"db2\",exported_target=\"old\"} 2\n");
  scrape_once();
  const auto text = exposition();
  EXPECT_THAT(text, HasSubstr("x{exported_exported_target=\"db\",exported_target=\"old\",target=\"app0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("x{exported_exported_target=\"db2\",exported_target=\"old\",target=\"app0\"} 2\n"));
}

TEST_F(WorkloadScraperTest, PortholeFamiliesFromTheWorkloadAreDroppedAndCounted) {
  server_.respond_ok("# TYPE porthole_control_connected gauge\nporthole_control_connected 0\n# TYPE ok gauge\nok 1\n");
  scrape_once();
  const auto text = exposition();
  EXPECT_THAT(text, Not(HasSubstr("porthole_control_connected")));
  EXPECT_THAT(text, HasSubstr("ok{target=\"app0\"} 1"));
  EXPECT_EQ(metric(registry_, "porthole_workload_families_dropped_total", {{"target", "app0"}, {"reason", "name_clash"}}), 1);
}

TEST_F(WorkloadScraperTest, AFamilyOfTheAgentsNameKeepsTheAgentsTypeAndGainsTheWorkloadsSeries) {
  server_.respond_ok("# TYPE process_open_fds gauge\nprocess_open_fds 7\n# TYPE up_thing counter\nup_thing_total 1\n");
  scrape_once();
  std::vector<prometheus::MetricFamily> families(2);
  families[0].name = "process_open_fds";
  families[0].type = prometheus::MetricType::Gauge;
  families[0].metric.resize(1);
  families[0].metric[0].gauge.value = 12;
  families[1].name = "up_thing_total";
  families[1].type = prometheus::MetricType::Gauge;  // conflicts with the workload's counter
  scraper().append_to(families);
  const auto text = prometheus::TextSerializer().Serialize(families);
  EXPECT_THAT(text, HasSubstr("process_open_fds 12\n"));
  EXPECT_THAT(text, HasSubstr("process_open_fds{target=\"app0\"} 7\n"));
  EXPECT_EQ(metric(registry_, "porthole_workload_families_dropped_total", {{"target", "app0"}, {"reason", "type_conflict"}}), 1);
}

TEST_F(WorkloadScraperTest, GarbageIsCountedAndTheGoodLinesAreRelayed) {
  server_.respond_ok("# TYPE good gauge\ngood 1\nthis is { not prometheus\n");
  scrape_once();
  EXPECT_EQ(up(), 1);
  EXPECT_EQ(errors("invalid_lines"), 1);
  EXPECT_THAT(exposition(), HasSubstr("good{target=\"app0\"} 1"));
}

TEST_F(WorkloadScraperTest, NothingParseableFailsTheScrapeAndKeepsTheLastGoodSnapshotUntilStale) {
  config_.max_staleness = std::chrono::seconds(40);
  server_.respond_ok("# TYPE good gauge\ngood 1\n");
  server_.respond_ok("<html>not metrics</html>\n");
  scrape_once();
  EXPECT_EQ(up(), 1);
  scrape_once();  // 15 s later: garbage
  EXPECT_EQ(up(), 0);
  EXPECT_EQ(errors("parse"), 1);
  EXPECT_THAT(exposition(), HasSubstr("good{target=\"app0\"} 1"));
  EXPECT_EQ(metric(registry_, "porthole_workload_metrics_age_seconds", {{"target", "app0"}}), 15);
  scrape_once();  // 30 s: still garbage, snapshot 30 s old
  EXPECT_THAT(exposition(), HasSubstr("good{target=\"app0\"} 1"));
  scrape_once();  // 45 s: older than max_staleness
  EXPECT_THAT(exposition(), Not(HasSubstr("good")));
  EXPECT_EQ(errors("parse"), 3);
}

TEST_F(WorkloadScraperTest, AHungEndpointTimesOut) {
  server_.respond("");  // accepts, never answers
  scraper().start();
  started_ = true;
  time_.advance(Duration::zero());
  ASSERT_TRUE(run_until(io_, [&] { return server_.requests() == 1; }));
  EXPECT_EQ(scraper().completed_scrapes(0), 0u);
  time_.advance(std::chrono::seconds(5));
  ASSERT_TRUE(run_until(io_, [&] { return scraper().completed_scrapes(0) == 1; }));
  EXPECT_EQ(up(), 0);
  EXPECT_EQ(errors("timeout"), 1);
}

TEST_F(WorkloadScraperTest, AnOversizedBodyFailsTheScrape) {
  config_.max_bytes = 1024;
  server_.respond_ok("# TYPE big gauge\n" + std::string(2000, '#') + "\nbig 1\n");
  scrape_once();
  EXPECT_EQ(up(), 0);
  EXPECT_EQ(errors("too_large"), 1);
  EXPECT_THAT(exposition(), Not(HasSubstr("big")));
}

TEST_F(WorkloadScraperTest, RedirectsAreNotFollowedAndNoListenerIsAConnectError) {
  server_.respond("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x\r\nContent-Length: 0\r\n\r\n");
  scrape_once();
  EXPECT_EQ(up(), 0);
  EXPECT_EQ(errors("http_status"), 1);
  EXPECT_EQ(server_.requests(), 1u);

  // A second target on a port nobody listens on (bound, then closed, to get a free one).
  std::uint16_t dead_port;
  {
    tcp::acceptor a(io_, tcp::endpoint(tcp::v4(), 0));
    dead_port = a.local_endpoint().port();
  }
  WorkloadMetricsConfig c;
  ScrapeTargetConfig t;
  t.name = "gone";
  t.url = "http://127.0.0.1:" + std::to_string(dead_port) + "/metrics";
  parse_scrape_url(t.url, t.host, t.port, t.path);
  c.targets.push_back(t);
  prometheus::Registry r;
  WorkloadScraper s(io_.get_executor(), time_, c, policy_, r, nullptr);
  s.start();
  time_.advance(Duration::zero());
  ASSERT_TRUE(run_until(io_, [&] { return s.completed_scrapes(0) == 1; }));
  EXPECT_EQ(metric(r, "porthole_workload_scrape_errors_total", {{"target", "gone"}, {"reason", "connect"}}), 1);
  EXPECT_EQ(metric(r, "porthole_workload_up", {{"target", "gone"}}), 0);
}

TEST_F(WorkloadScraperTest, TwoTargetsWithTheSameFamiliesStayDistinct) {
  configure(2);
  server_.respond_ok("# TYPE hits_total counter\nhits_total 1\n");
  scraper().start();
  started_ = true;
  time_.advance(Duration::zero());
  ASSERT_TRUE(run_until(io_, [&] { return scraper().completed_scrapes(0) == 1 && scraper().completed_scrapes(1) == 1; }));
  const auto text = exposition();
  EXPECT_THAT(text, HasSubstr("hits_total{target=\"app0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hits_total{target=\"app1\"} 1\n"));
  EXPECT_TRUE(telemetry::parse_prometheus_text(text).errors.empty());
}

TEST(ScrapeUrl, OnlyHttpToAnIpAddress) {
  std::string host, path;
  std::uint16_t port = 0;
  parse_scrape_url("http://127.0.0.1:9100/metrics", host, port, path);
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9100);
  EXPECT_EQ(path, "/metrics");
  parse_scrape_url("http://[::1]:80/m?x=1", host, port, path);
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(path, "/m?x=1");
  parse_scrape_url("http://localhost:81", host, port, path);
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(path, "/");
  EXPECT_THROW(parse_scrape_url("https://127.0.0.1:1/m", host, port, path), ConfigError);
  EXPECT_THROW(parse_scrape_url("http://example.com:80/m", host, port, path), ConfigError);
  EXPECT_THROW(parse_scrape_url("http://127.0.0.1/m", host, port, path), ConfigError);
  EXPECT_THROW(parse_scrape_url("http://127.0.0.1:70000/m", host, port, path), ConfigError);
  EXPECT_THROW(parse_scrape_url("http://u@127.0.0.1:1/m", host, port, path), ConfigError);
}

}  // namespace
}  // namespace porthole::agent

#include "cli_options.hpp"

#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

std::string cli_error_of(const std::vector<std::string>& args) {
  try {
    parse_cli(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(CliOptions, DefaultsAreSane) {
  const auto o = parse_cli({"--url", "http://127.0.0.1:1/"});
  EXPECT_EQ(o.rate, 100);
  EXPECT_EQ(o.connections, 10u);
  EXPECT_EQ(o.threads, 1u);
  EXPECT_EQ(o.duration, std::chrono::seconds(10));
  EXPECT_EQ(o.warmup, std::chrono::seconds(1));
  EXPECT_FALSE(o.slo);
  EXPECT_TRUE(o.traceparent);
  EXPECT_EQ(o.scrape_wait, std::chrono::seconds(20));
  EXPECT_TRUE(o.dump_requests.empty());
}

TEST(CliOptions, ParsesFieldEncryptionTraceparentAndTheDump) {
  const auto o = parse_cli({"--url", "http://x:1", "--scenario", "field-encryption", "--curve", "x25519", "--cipher",
                            "chacha20-poly1305", "--traceparent", "off", "--dump-requests", "d.jsonl", "--dump-limit",
                            "50", "--scrape-wait", "0"});
  EXPECT_EQ(o.curve, "x25519");
  EXPECT_EQ(o.cipher, "chacha20-poly1305");
  EXPECT_FALSE(o.traceparent);
  EXPECT_EQ(o.dump_requests, "d.jsonl");
  EXPECT_EQ(o.dump_limit, 50u);
  EXPECT_EQ(o.scrape_wait, std::chrono::nanoseconds(0));
}

TEST(CliOptions, ParsesARun) {
  const auto o = parse_cli({"--url", "http://127.0.0.1:1/", "--rate", "2500.5", "--connections", "8", "--threads", "2",
                            "--requests", "1000", "--jitter", "0.2", "--scrape", "http://a/metrics", "--scrape",
                            "http://b/metrics", "--quiet"});
  EXPECT_EQ(o.rate, 2500.5);
  EXPECT_EQ(o.requests, 1000u);
  EXPECT_FALSE(o.duration);
  EXPECT_EQ(o.warmup, std::chrono::nanoseconds(0));  // count mode measures from the start
  EXPECT_EQ(o.scrape.size(), 2u);
  EXPECT_TRUE(o.quiet);
}

TEST(CliOptions, ParsesSloAndCompare) {
  const auto o = parse_cli({"--url", "http://x:1", "--slo", "p99.9=50ms", "--slo-errors", "1%", "--slo-step", "50"});
  ASSERT_TRUE(o.slo);
  EXPECT_EQ(o.slo->percentile, 99.9);
  EXPECT_EQ(o.slo->threshold, std::chrono::milliseconds(50));
  EXPECT_DOUBLE_EQ(o.slo->error_budget, 0.01);
  EXPECT_EQ(o.slo->step_rate, 50);
  const auto c = parse_cli({"compare", "a.json", "b.json", "--json"});
  EXPECT_EQ(c.command, CliOptions::Command::Compare);
  EXPECT_TRUE(c.compare_json);
}

TEST(CliOptions, ErrorsNameTheOption) {
  EXPECT_NE(cli_error_of({}).find("--url is required"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--rate", "fast"}).find("--rate"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--duration", "10 parsecs"}).find("--duration"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--connections", "0"}).find("--connections"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--connections", "2", "--threads", "4"}).find("--threads"),
            std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--requests", "5", "--duration", "1s"}).find("not both"),
            std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--slo", "99=5ms"}).find("p99=50ms"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--slo-step", "5"}).find("need --slo"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--bogus", "1"}).find("unknown option --bogus"), std::string::npos);
  EXPECT_NE(cli_error_of({"compare", "a.json"}).find("exactly two"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url"}).find("missing value"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--scenario", "field-encryption", "--curve", "p-521"}).find("--curve"),
            std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--curve", "x25519"}).find("--scenario field-encryption"),
            std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--traceparent", "yes"}).find("--traceparent"), std::string::npos);
  EXPECT_NE(cli_error_of({"--url", "http://x:1", "--slo", "p99=1s", "--dump-requests", "d"}).find("--dump-requests"),
            std::string::npos);
}

}  // namespace
}  // namespace porthole::loadtest

#include "porthole/agent/workload_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_error.hpp"

namespace porthole::agent {
namespace {

using ::testing::HasSubstr;

WorkloadMetricsConfig metrics(const std::string& yaml) {
  auto root = ConfigNode::root(load_yaml_string(yaml, "a.yaml"), "a.yaml");
  return read_workload_metrics_config(root.map("workload_metrics"));
}
WorkloadConfig workload(const std::string& yaml) {
  auto root = ConfigNode::root(load_yaml_string(yaml, "a.yaml"), "a.yaml");
  return read_workload_config(root.map("workload"));
}
std::string metrics_error(const std::string& yaml) {
  return porthole::testing::config_error_of([&] { metrics(yaml); });
}
std::string workload_error(const std::string& yaml) {
  return porthole::testing::config_error_of([&] { workload(yaml); });
}

TEST(WorkloadMetricsConfig, Targets) {
  auto c = metrics(
      "workload_metrics: {max_bytes: 2MiB, max_staleness: 30s, targets: ["
      "{name: app, url: 'http://127.0.0.1:9100/metrics'},"
      "{name: side-car.2, url: 'http://[::1]:9200/m', interval: 5s, timeout: 1s}]}");
  ASSERT_EQ(c.targets.size(), 2u);
  EXPECT_EQ(c.targets[0].name, "app");
  EXPECT_EQ(c.targets[0].port, 9100);
  EXPECT_EQ(c.targets[0].interval, std::chrono::seconds(15));
  EXPECT_EQ(c.targets[0].timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.targets[1].host, "::1");
  EXPECT_EQ(c.targets[1].interval, std::chrono::seconds(5));
  EXPECT_EQ(c.max_bytes, 2u << 20);
  EXPECT_EQ(c.max_staleness, std::chrono::seconds(30));
  EXPECT_EQ(metrics(""), WorkloadMetricsConfig{});
}

TEST(WorkloadMetricsConfig, MistakesGetMessagesThatSayWhatToFix) {
  EXPECT_THAT(metrics_error("workload_metrics: {targets: [{name: a, url: 'https://127.0.0.1:1/m'}]}"),
              HasSubstr("workload_metrics.targets[0].url: 'https://127.0.0.1:1/m' is not an http:// URL; write "
                        "http://IP:PORT/PATH"));
  EXPECT_THAT(metrics_error("workload_metrics: {targets: [{name: a, url: 'http://app.internal:80/m'}]}"),
              HasSubstr("the host must be an IP address inside the enclave"));
  EXPECT_THAT(metrics_error("workload_metrics: {targets: [{name: 'a b', url: 'http://127.0.0.1:1/m'}]}"),
              HasSubstr("workload_metrics.targets[0].name: 'a b' must be 1..64 characters"));
  EXPECT_THAT(metrics_error("workload_metrics: {targets: [{name: a, url: 'http://127.0.0.1:1/m'},"
                            "{name: a, url: 'http://127.0.0.1:2/m'}]}"),
              HasSubstr("workload_metrics.targets[1].name: 'a' names another target already"));
  EXPECT_THAT(metrics_error("workload_metrics: {targets: [{name: a, url: 'http://127.0.0.1:1/m', interval: 1s, "
                            "timeout: 2s}]}"),
              HasSubstr("workload_metrics.targets[0].timeout: 2s is longer than the interval (1s)"));
  EXPECT_THAT(metrics_error("workload_metrics: {targets: [{name: a, url: 'http://127.0.0.1:1/m', every: 1s}]}"),
              HasSubstr("unknown key workload_metrics.targets[0].every"));
  EXPECT_THAT(metrics_error("workload_metrics: {max_bytes: 1GiB}"), HasSubstr("workload_metrics.max_bytes"));
}

TEST(WorkloadConfig, Supervisor) {
  auto c = workload(
      "workload: {command: [/usr/bin/app, --port, '8080'], env: {A: '1', B: x}, working_dir: /srv, "
      "restart: always, restart_backoff: {initial: 2s, max: 10s}, stop_timeout: 20s, service_name: shop, "
      "max_line_bytes: 4KiB}");
  EXPECT_EQ(c.command, (std::vector<std::string>{"/usr/bin/app", "--port", "8080"}));
  EXPECT_EQ(c.env.at("A"), "1");
  EXPECT_EQ(c.working_dir, "/srv");
  EXPECT_EQ(c.restart, RestartPolicy::Always);
  EXPECT_EQ(c.restart_backoff.initial, std::chrono::seconds(2));
  EXPECT_EQ(c.restart_backoff.max, std::chrono::seconds(10));
  EXPECT_EQ(c.stop_timeout, std::chrono::seconds(20));
  EXPECT_EQ(c.service_name, "shop");
  EXPECT_EQ(c.max_line_bytes, 4096u);
  EXPECT_EQ(workload(""), WorkloadConfig{});
  EXPECT_EQ(workload("workload: {restart: never}").restart, RestartPolicy::Never);
}

TEST(WorkloadConfig, MistakesGetMessagesThatSayWhatToFix) {
  EXPECT_THAT(workload_error("workload: {restart: sometimes}"),
              HasSubstr("workload.restart: 'sometimes' is not a restart policy; write never, on-failure or always"));
  EXPECT_THAT(workload_error("workload: {command: /usr/bin/app}"), HasSubstr("workload.command: expected a list"));
  EXPECT_THAT(workload_error("workload: {command: ['']}"), HasSubstr("workload.command: the first entry"));
  EXPECT_THAT(workload_error("workload: {working_dir: srv}"), HasSubstr("workload.working_dir: 'srv' must be an absolute path"));
  EXPECT_THAT(workload_error("workload: {restart_backoff: {initial: 5s, max: 1s}}"),
              HasSubstr("workload.restart_backoff.max: 1s is below initial (5s)"));
  EXPECT_THAT(workload_error("workload: {stop_timeout: soon}"), HasSubstr("workload.stop_timeout: 'soon' is not a duration"));
  EXPECT_THAT(workload_error("workload: {env: {'A=B': x}}"), HasSubstr("contain no '='"));
  EXPECT_THAT(workload_error("workload: {cmd: [x]}"), HasSubstr("unknown key workload.cmd"));
}

}  // namespace
}  // namespace porthole::agent

#include "porthole/agent/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_docs.hpp"
#include "config_error.hpp"

namespace porthole::agent {
namespace {

using ::testing::HasSubstr;

AgentConfig parse(const std::string& yaml) { return read_agent_config(load_yaml_string(yaml, "a.yaml"), "a.yaml"); }

std::string error_of(const std::string& yaml) {
  return porthole::testing::config_error_of([&] { parse(yaml); });
}

TEST(AgentConfig, ThePrintedDefaultFileIsExactlyTheDefaults) {
  EXPECT_EQ(parse(default_agent_config_yaml()), AgentConfig{});
  EXPECT_EQ(parse(""), AgentConfig{});
}

TEST(AgentConfig, EveryKeyIsDocumented) {
  EXPECT_THAT(porthole::testing::undocumented_keys(default_agent_config_yaml(), "## porthole-agent"),
              ::testing::IsEmpty());
}

TEST(AgentConfig, GarbageGetsMessagesThatSayWhatToFix) {
  EXPECT_THAT(error_of("enclave: {name: ''}"), HasSubstr("a.yaml: enclave.name: '' must be 1..64 characters"));
  EXPECT_THAT(error_of("enclave: {name: [a]}"), HasSubstr("enclave.name: expected a string, found a list"));
  EXPECT_THAT(error_of("control: {reconnect: {max: forever}}"),
              HasSubstr("control.reconnect.max: 'forever' is not a duration"));
  EXPECT_THAT(error_of("boundary: {transport: 'uds:relative'}"), HasSubstr("must be an absolute path"));
  EXPECT_THAT(error_of("shutdown: {drain_timeout: 2h}"), HasSubstr("shutdown.drain_timeout: '2h' is out of range"));
  EXPECT_THAT(error_of("admin: {}"), HasSubstr("unknown key admin"));
}

// The enclave's metrics snapshot travels in one control frame: limits that cannot fit in it are a
// configuration error, not a snapshot that silently goes missing at run time.
TEST(AgentConfig, MetricsLimitsMustFitInAControlFrame) {
  EXPECT_THAT(error_of("control: {max_frame_bytes: 1MiB}"),
              HasSubstr("control.max_frame_bytes: 1048576 bytes cannot carry a metrics snapshot: "
                        "telemetry.metrics.max_bytes (1048576) + workload_metrics.max_bytes (0)"));
  // Without OTLP metrics and scrape targets, the agent's own metrics need only their headroom.
  EXPECT_NO_THROW(parse("control: {max_frame_bytes: 1MiB}\ntelemetry: {metrics: {enabled: false}}"));
  EXPECT_THAT(error_of("telemetry: {metrics: {max_bytes: 2MiB}}\n"
                       "workload_metrics: {max_bytes: 2MiB, targets: [{name: w, url: 'http://127.0.0.1:1/metrics'}]}"),
              HasSubstr("telemetry.metrics.max_bytes (2097152) + workload_metrics.max_bytes (2097152)"));
  EXPECT_NO_THROW(parse("control: {max_frame_bytes: 8MiB}\ntelemetry: {metrics: {max_bytes: 2MiB}}\n"
                        "workload_metrics: {max_bytes: 2MiB, targets: [{name: w, url: 'http://127.0.0.1:1/metrics'}]}"));
}

}  // namespace
}  // namespace porthole::agent

#include "porthole/telemetry/otlp_exporter_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace porthole::telemetry {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

OtlpExporterConfig read(const std::string& yaml) {
  return read_otlp_exporter_config(ConfigNode::root(load_yaml_string(yaml, "test.yaml"), "test.yaml"));
}

std::string error_of(const std::string& yaml) {
  try {
    read(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(OtlpExporterConfig, DefaultsFollowOpenTelemetry) {
  const auto c = read("{}");
  EXPECT_FALSE(c.enabled());
  EXPECT_EQ(c.url_for(OtlpSignal::Traces), "");
  EXPECT_EQ(c.encoding, OtlpExporterConfig::Encoding::Protobuf);
  EXPECT_EQ(c.compression, OtlpExporterConfig::Compression::None);
  EXPECT_EQ(c.timeout, 10s);
  EXPECT_EQ(c.initial_backoff, 1s);
  EXPECT_EQ(c.max_backoff, 30s);
  EXPECT_EQ(c.max_elapsed, 5min);
  EXPECT_EQ(c.max_queue_bytes, 16u << 20);
  EXPECT_EQ(c.content_type(), "application/x-protobuf");
}

TEST(OtlpExporterConfig, ReadsEverySetting) {
  const auto c = read(R"(
endpoint: http://collector.local:4318/
logs_endpoint: http://10.0.0.2:9999/ingest/logs
headers: {authorization: "Bearer abc", X-Scope-OrgID: tenant-1}
encoding: json
compression: gzip
timeout: 3s
max_queue_bytes: 1MiB
max_queue_requests: 10
initial_backoff: 200ms
max_backoff: 10s
max_elapsed: 1m
)");
  EXPECT_TRUE(c.enabled());
  EXPECT_EQ(c.url_for(OtlpSignal::Traces), "http://collector.local:4318/v1/traces");
  EXPECT_EQ(c.url_for(OtlpSignal::Metrics), "http://collector.local:4318/v1/metrics");
  EXPECT_EQ(c.url_for(OtlpSignal::Logs), "http://10.0.0.2:9999/ingest/logs");
  EXPECT_EQ(c.headers.at("authorization"), "Bearer abc");
  EXPECT_EQ(c.headers.at("X-Scope-OrgID"), "tenant-1");
  EXPECT_EQ(c.content_type(), "application/json");
  EXPECT_EQ(c.compression, OtlpExporterConfig::Compression::Gzip);
  EXPECT_EQ(c.timeout, 3s);
  EXPECT_EQ(c.max_queue_bytes, 1u << 20);
  EXPECT_EQ(c.max_queue_requests, 10u);
  EXPECT_EQ(c.initial_backoff, 200ms);
  EXPECT_EQ(c.max_backoff, 10s);
  EXPECT_EQ(c.max_elapsed, 1min);
}

TEST(OtlpExporterConfig, ErrorsSayWhatToFix) {
  EXPECT_THAT(error_of("endpoint: https://otel.example:4318"),
              AllOf(HasSubstr("test.yaml: endpoint"), HasSubstr("https:// is not supported")));
  EXPECT_THAT(error_of("endpoint: 127.0.0.1:4318"), HasSubstr("must start with http://"));
  EXPECT_THAT(error_of("endpoint: http://h:0"), HasSubstr("port must be 1..65535"));
  EXPECT_THAT(error_of("traces_endpoint: http://h:99999/x"), HasSubstr("traces_endpoint"));
  EXPECT_THAT(error_of("encoding: xml"), HasSubstr("'xml' is not one of: protobuf, json"));
  EXPECT_THAT(error_of("compression: zstd"), HasSubstr("not one of: none, gzip"));
  EXPECT_THAT(error_of("headers: {Content-Type: text/plain}"), HasSubstr("headers.Content-Type: is set by the exporter"));
  EXPECT_THAT(error_of("headers: {\"bad name\": x}"), HasSubstr("not a valid HTTP header name"));
  EXPECT_THAT(error_of("max_backoff: 100ms"), HasSubstr("shorter than initial_backoff"));
  EXPECT_THAT(error_of("endpont: http://h:1"), HasSubstr("unknown key endpont"));
  EXPECT_THAT(error_of("timeout: soon"), HasSubstr("timeout"));
}

TEST(OtlpExporterConfig, HeaderValuesNeverAppearInErrors) {
  const auto e = error_of("headers: {authorization: \"Bearer topsecret\\r\\nX: y\"}");
  EXPECT_THAT(e, AllOf(HasSubstr("control characters"), Not(HasSubstr("topsecret"))));
}

TEST(ParseHttpUrl, SplitsHostPortAndTarget) {
  HttpUrl u;
  std::string error;
  ASSERT_TRUE(parse_http_url("http://127.0.0.1:4318/v1/traces", u, error)) << error;
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 4318);
  EXPECT_EQ(u.target, "/v1/traces");
  EXPECT_EQ(u.host_header(), "127.0.0.1:4318");
  ASSERT_TRUE(parse_http_url("http://[::1]:9/x?y=1", u, error)) << error;
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.target, "/x?y=1");
  EXPECT_EQ(u.host_header(), "[::1]:9");
  ASSERT_TRUE(parse_http_url("http://collector", u, error)) << error;
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.host_header(), "collector");
  for (const char* bad : {"http://", "http://:80", "http://[::1", "http://h:x", "http://u:p@h/", "ftp://h",
                          "http://h/#frag", "http://h:"}) {
    EXPECT_FALSE(parse_http_url(bad, u, error)) << bad;
  }
}

}  // namespace
}  // namespace porthole::telemetry

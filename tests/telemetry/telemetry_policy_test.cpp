// The telemetry policy: globs, defaults, YAML reading and validation, and applying it to spans,
// logs and metric families with every removal counted by kind and reason.
#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include "otlp_test_data.hpp"
#include "porthole/telemetry/prom_text.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::telemetry {
namespace {

TEST(GlobMatch, StarMatchesAnyRun) {
  EXPECT_TRUE(glob_match("telemetry.sdk.*", "telemetry.sdk.name"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "a-xx-b-yy-c"));
  EXPECT_TRUE(glob_match("http_*_total", "http_requests_total"));
  EXPECT_FALSE(glob_match("telemetry.sdk.*", "telemetry.sdk"));
  EXPECT_FALSE(glob_match("a*b", "a-b-c"));
  EXPECT_FALSE(glob_match("abc", "abcd"));
  EXPECT_TRUE(glob_match("**a", "bba"));
}

TEST(KeyFilter, DenyWinsOverAllow) {
  const KeyFilter f{{"http.*"}, {"http.request.header.*"}};
  EXPECT_TRUE(f.allows("http.route"));
  EXPECT_FALSE(f.allows("http.request.header.authorization"));
  EXPECT_FALSE(f.allows("url.full"));
}

TEST(TelemetryPolicyDefaults, AllowShapeKeysAndRejectPayloadKeys) {
  const TelemetryPolicy p = default_telemetry_policy();
  for (const char* key : {"http.request.method", "http.response.status_code", "http.route", "url.scheme",
                          "server.address", "server.port", "network.protocol.version", "rpc.system", "rpc.service",
                          "rpc.method", "db.system", "db.operation.name", "error.type", "service.name",
                          "service.version", "deployment.environment", "telemetry.sdk.language", "otel.status_code"}) {
    EXPECT_TRUE(p.span_attributes.allows(key)) << key;
  }
  for (const char* key : {"url.full", "url.query", "url.path", "http.request.header.cookie", "db.query.text",
                          "db.statement", "exception.message", "exception.stacktrace", "client.address",
                          "user_agent.original", "enduser.id"}) {
    EXPECT_FALSE(p.span_attributes.allows(key)) << key;
  }
  EXPECT_TRUE(p.resource_attributes.allows("service.name"));
  EXPECT_FALSE(p.resource_attributes.allows("process.command_line"));
  EXPECT_FALSE(p.log_bodies);
  EXPECT_FALSE(p.span_status_messages);
  EXPECT_TRUE(p.metric_names.allows("anything_total"));
}

TEST(ReadTelemetryPolicy, MissingSectionGivesTheDefaults) {
  auto root = ConfigNode::root(load_yaml_string("{}", "test.yaml"), "test.yaml");
  EXPECT_EQ(read_telemetry_policy(root.map("policy")), default_telemetry_policy());
}

TEST(ReadTelemetryPolicy, ReadsEveryKey) {
  const std::string yaml = R"(
span_attributes: {allow: ["http.*", "app.tenant"], deny: ["http.request.header.*"]}
resource_attributes: {allow: ["service.*"]}
log_attributes: {allow: ["level"], deny: []}
log_bodies: true
span_status_messages: true
metric_names: {allow: ["app_*"], deny: ["app_debug_*"]}
metric_labels: {allow: ["method", "code"]}
max_value_bytes: 2KiB
max_series_per_family: 50
)";
  auto root = ConfigNode::root(load_yaml_string(yaml, "agent.yaml"), "agent.yaml");
  const TelemetryPolicy p = read_telemetry_policy(root);
  EXPECT_EQ(p.span_attributes, (KeyFilter{{"http.*", "app.tenant"}, {"http.request.header.*"}}));
  EXPECT_EQ(p.resource_attributes.allow, std::vector<std::string>{"service.*"});
  EXPECT_TRUE(p.resource_attributes.deny.empty());
  EXPECT_EQ(p.log_attributes, (KeyFilter{{"level"}, {}}));
  EXPECT_TRUE(p.log_bodies);
  EXPECT_TRUE(p.span_status_messages);
  EXPECT_EQ(p.metric_names, (KeyFilter{{"app_*"}, {"app_debug_*"}}));
  EXPECT_EQ(p.metric_labels.allow, (std::vector<std::string>{"method", "code"}));
  EXPECT_EQ(p.max_value_bytes, 2048u);
  EXPECT_EQ(p.max_series_per_family, 50u);
}

TEST(ReadTelemetryPolicy, ErrorsSayWhatToFix) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"span_attributes: {allow: ['']}", "span_attributes.allow"},
      {"span_attributes: {allow: ['a b']}", "whitespace"},
      {"span_attributes: {alow: ['x']}", "alow"},
      {"max_value_bytes: 1", "max_value_bytes"},
      {"max_series_per_family: 0", "max_series_per_family"},
      {"log_bodys: true", "log_bodys"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto root = ConfigNode::root(load_yaml_string(yaml, "agent.yaml"), "agent.yaml");
    try {
      read_telemetry_policy(root);
      ADD_FAILURE() << "no error for " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << yaml << " -> " << e.what();
    }
  }
}

TEST(ApplyPolicy, FiltersSpansAndCountsByKindAndReason) {
  TelemetryPolicy p = default_telemetry_policy();
  p.max_value_bytes = 16;
  TraceBatch batch = testing::sample_trace_batch();
  batch.resource_spans[0].scope_spans[0].spans[0].attributes.push_back(
      {"http.route", AnyValue("/a/very/long/route/template/{id}")});
  const PolicyCounts counts = apply_policy(p, batch);

  const auto& rs = batch.resource_spans[0];
  ASSERT_EQ(rs.resource.attributes.size(), 1u);
  EXPECT_EQ(rs.resource.attributes[0].key, "service.name");
  EXPECT_EQ(rs.resource.dropped_attributes_count, 2u);  // 1 before + process.command_line
  EXPECT_TRUE(rs.scope_spans[0].scope.attributes.empty());

  const Span& s = rs.scope_spans[0].spans[0];
  ASSERT_EQ(s.attributes.size(), 3u);
  EXPECT_EQ(s.attributes[0].key, "http.request.method");
  EXPECT_EQ(s.attributes[1].key, "http.response.status_code");
  EXPECT_EQ(std::get<std::string>(s.attributes[2].value.value), "/a/very/long/rou");
  EXPECT_EQ(s.dropped_attributes_count, 2u);  // 1 before + url.full
  ASSERT_EQ(s.events[0].attributes.size(), 1u);
  EXPECT_EQ(s.events[0].attributes[0].key, "exception.type");
  EXPECT_TRUE(s.links[0].attributes.empty());
  EXPECT_EQ(s.status.message, "");
  EXPECT_EQ(s.status.code, 2);  // the code stays

  EXPECT_EQ(counts.get(PolicyKind::ResourceAttribute, PolicyReason::NotAllowed), 2u);  // resource + scope
  EXPECT_EQ(counts.get(PolicyKind::SpanAttribute, PolicyReason::Truncated), 1u);
  EXPECT_EQ(counts.get(PolicyKind::SpanStatusMessage, PolicyReason::NotAllowed), 4u);
  EXPECT_GT(counts.get(PolicyKind::SpanAttribute, PolicyReason::NotAllowed), 10u);
}

// apply_policy remembers the verdict per key within a batch, up to a bound: a batch with far more
// distinct keys than the bound must be filtered exactly as key-by-key matching does.
TEST(ApplyPolicy, ManyDistinctKeysAreFilteredExactlyBeyondTheVerdictCache) {
  TelemetryPolicy policy = default_telemetry_policy();
  policy.span_attributes = KeyFilter{{"keep.*"}, {"keep.secret.*"}};
  TraceBatch batch;
  auto& spans = batch.resource_spans.emplace_back().scope_spans.emplace_back().spans;
  std::size_t expected_kept = 0, expected_removed = 0;
  for (int s = 0; s < 4; ++s) {
    Span& span = spans.emplace_back();
    for (int k = 0; k < 300; ++k) {
      const std::string key = (k % 3 == 0 ? "keep.a" : k % 3 == 1 ? "keep.secret.b" : "drop.c") + std::to_string(k);
      span.attributes.push_back({key, AnyValue("v")});
      if (s == 0) (policy.span_attributes.allows(key) ? expected_kept : expected_removed) += 1;
    }
  }
  const auto counts = apply_policy(policy, batch);
  for (const auto& span : spans) {
    EXPECT_EQ(span.attributes.size(), expected_kept);
    EXPECT_EQ(span.dropped_attributes_count, expected_removed);
    for (const auto& kv : span.attributes) EXPECT_TRUE(policy.span_attributes.allows(kv.key)) << kv.key;
  }
  EXPECT_EQ(counts.get(PolicyKind::SpanAttribute, PolicyReason::NotAllowed), 4 * expected_removed);
  EXPECT_EQ(expected_kept, 100u);
}

TEST(ApplyPolicy, TruncatesAtUtf8BoundariesAndInsideNestedValues) {
  TelemetryPolicy p;
  p.span_attributes = {{"*"}, {}};
  p.max_value_bytes = 5;
  TraceBatch batch;
  Span s;
  s.attributes = {{"a", AnyValue("abcd\xC3\xA9xyz")},  // 'é' straddles the cut: cut before it
                  {"n", AnyValue(ArrayValue{{AnyValue("123456"), AnyValue(BytesValue{"1234567"})}})}};
  batch.resource_spans.push_back(ResourceSpans{{}, {ScopeSpans{{}, {s}, ""}}, ""});
  const PolicyCounts counts = apply_policy(p, batch);
  const auto& attrs = batch.resource_spans[0].scope_spans[0].spans[0].attributes;
  EXPECT_EQ(std::get<std::string>(attrs[0].value.value), "abcd");
  const auto& arr = std::get<ArrayValue>(attrs[1].value.value);
  EXPECT_EQ(std::get<std::string>(arr.values[0].value), "12345");
  EXPECT_EQ(std::get<BytesValue>(arr.values[1].value).bytes, "12345");
  EXPECT_EQ(counts.get(PolicyKind::SpanAttribute, PolicyReason::Truncated), 3u);
}

TEST(ApplyPolicy, FiltersLogsAndDropsBodiesByDefault) {
  TelemetryPolicy p = default_telemetry_policy();
  LogBatch batch = testing::sample_log_batch();
  const PolicyCounts counts = apply_policy(p, batch);
  const auto& r = batch.resource_logs[0].scope_logs[0].log_records[0];
  EXPECT_TRUE(r.body.empty());
  ASSERT_EQ(r.attributes.size(), 1u);
  EXPECT_EQ(r.attributes[0].key, "error.type");
  EXPECT_EQ(r.dropped_attributes_count, 2u);
  EXPECT_EQ(r.event_name, "payment.failed");  // ids, severity and event name stay
  EXPECT_EQ(r.severity_number, 17);
  EXPECT_EQ(counts.get(PolicyKind::LogBody, PolicyReason::NotAllowed), 3u);
  EXPECT_GE(counts.get(PolicyKind::LogAttribute, PolicyReason::NotAllowed), 2u);

  p.log_bodies = true;
  p.max_value_bytes = 16;
  LogBatch kept = testing::sample_log_batch();
  const PolicyCounts kept_counts = apply_policy(p, kept);
  EXPECT_EQ(std::get<std::string>(kept.resource_logs[0].scope_logs[0].log_records[0].body.value), "payment failed f");
  EXPECT_EQ(kept_counts.get(PolicyKind::LogBody, PolicyReason::Truncated), 2u);
}

TEST(ApplyPolicy, MetricsNamesLabelsDuplicatesAndSeriesCap) {
  auto parsed = parse_prometheus_text(
      "# TYPE app_requests_total counter\n"
      "app_requests_total{method=\"GET\",user=\"alice\"} 1\n"
      "app_requests_total{method=\"GET\",user=\"bob\"} 2\n"
      "app_requests_total{method=\"POST\",user=\"alice\"} 3\n"
      "app_requests_total{method=\"PUT\"} 4\n"
      "# TYPE app_debug_cache gauge\n"
      "app_debug_cache 5\n"
      "# TYPE other_metric gauge\n"
      "other_metric 6\n");
  ASSERT_TRUE(parsed.errors.empty());
  TelemetryPolicy p = default_telemetry_policy();
  p.metric_names = {{"app_*"}, {"app_debug_*"}};
  p.metric_labels = {{"method"}, {}};
  p.max_series_per_family = 2;
  const PolicyCounts counts = apply_policy(p, parsed.families);
  ASSERT_EQ(parsed.families.size(), 1u);
  const auto& m = parsed.families[0].metric;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].label.size(), 1u);
  EXPECT_EQ(m[0].label[0].value, "GET");
  EXPECT_EQ(m[0].counter.value, 1);
  EXPECT_EQ(m[1].label[0].value, "POST");
  EXPECT_EQ(counts.get(PolicyKind::MetricFamily, PolicyReason::NotAllowed), 2u);
  EXPECT_EQ(counts.get(PolicyKind::MetricLabel, PolicyReason::NotAllowed), 3u);
  EXPECT_EQ(counts.get(PolicyKind::MetricSeries, PolicyReason::Duplicate), 1u);
  EXPECT_EQ(counts.get(PolicyKind::MetricSeries, PolicyReason::SeriesCap), 1u);
  EXPECT_EQ(counts.total(), 7u);
}

TEST(PolicyMetrics, CountsByKindAndReasonWithoutKeysOrValues) {
  prometheus::Registry registry;
  PolicyMetrics metrics(registry, "enclave");
  PolicyCounts counts;
  counts.at(PolicyKind::SpanAttribute, PolicyReason::NotAllowed) = 3;
  counts.at(PolicyKind::MetricSeries, PolicyReason::SeriesCap) = 2;
  metrics.record(counts);
  metrics.record(counts);
  double not_allowed = -1, cap = -1;
  for (const auto& family : registry.Collect()) {
    ASSERT_EQ(family.name, "porthole_telemetry_policy_actions_total");
    for (const auto& m : family.metric) {
      ASSERT_EQ(m.label.size(), 3u);  // kind, reason, side: nothing from the data
      std::string kind, reason;
      for (const auto& l : m.label) {
        if (l.name == "kind") kind = l.value;
        if (l.name == "reason") reason = l.value;
      }
      if (kind == "span_attribute" && reason == "not_allowed") not_allowed = m.counter.value;
      if (kind == "metric_series" && reason == "series_cap") cap = m.counter.value;
    }
  }
  EXPECT_EQ(not_allowed, 6);
  EXPECT_EQ(cap, 4);
}

}  // namespace
}  // namespace porthole::telemetry

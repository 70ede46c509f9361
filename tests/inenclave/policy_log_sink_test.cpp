#include "porthole/agent/policy_sink.hpp"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace porthole::agent {
namespace {

class Collecting final : public telemetry::ItemSink<telemetry::LogItem> {
 public:
  bool submit(telemetry::LogItem&& item) override {
    items.push_back(std::move(item));
    return true;
  }
  std::vector<telemetry::LogItem> items;
};

telemetry::LogItem line(const std::string& body) {
  auto origin = std::make_shared<telemetry::ItemOrigin>();
  origin->resource.attributes.push_back({"service.name", std::string("shop")});
  origin->resource.attributes.push_back({"host.name", std::string("secret-host")});
  telemetry::LogItem item;
  item.origin = origin;
  item.record.body = telemetry::AnyValue(body);
  item.record.severity_number = 13;
  item.record.attributes.push_back({"log.iostream", std::string("stderr")});
  item.record.attributes.push_back({"user.email", std::string("a@example.com")});
  return item;
}

TEST(PolicyLogSink, WorkloadLinesPassThePolicyLikeOtlpLogs) {
  auto policy = telemetry::default_telemetry_policy();  // log bodies off by default
  prometheus::Registry registry;
  telemetry::PolicyMetrics metrics(registry, "enclave");
  Collecting next;
  PolicyLogSink sink(policy, next, &metrics);
  ASSERT_TRUE(sink.submit(line("card 4111 declined")));
  ASSERT_EQ(next.items.size(), 1u);
  const auto& item = next.items[0];
  EXPECT_TRUE(item.record.body.empty());
  EXPECT_EQ(item.record.severity_number, 13);
  EXPECT_NE(telemetry::find_attribute(item.record.attributes, "log.iostream"), nullptr);
  EXPECT_EQ(telemetry::find_attribute(item.record.attributes, "user.email"), nullptr);
  EXPECT_NE(telemetry::find_attribute(item.origin->resource.attributes, "service.name"), nullptr);
  EXPECT_EQ(telemetry::find_attribute(item.origin->resource.attributes, "host.name"), nullptr);

  policy.log_bodies = true;
  ASSERT_TRUE(sink.submit(line("hello")));
  EXPECT_EQ(std::get<std::string>(next.items[1].record.body.value), "hello");
}

}  // namespace
}  // namespace porthole::agent

#include "porthole/agent/agent_log_forwarder.hpp"

#include <gtest/gtest.h>

#include "porthole/common/logging.hpp"

namespace porthole::agent {
namespace {

// Logs from inside submit(), as a pipeline warning about its full queue would.
class ChattySink final : public telemetry::ItemSink<telemetry::LogItem> {
 public:
  bool submit(telemetry::LogItem&& item) override {
    logger("pipeline")->warn("queue nearly full");
    items.push_back(std::move(item));
    return true;
  }
  std::vector<telemetry::LogItem> items;
};

TEST(AgentLogForwarder, RecordsBecomeLogItemsWithoutRecursionUntilDetached) {
  ChattySink sink;
  {
    AgentLogForwarder forwarder(sink, spdlog::level::info);
    logger("fwdtest")->info("hello {}", 42);
    logger("fwdtest")->debug("not at this level");
    ASSERT_EQ(sink.items.size(), 1u);  // the warning logged inside submit() was not forwarded
    const auto& item = sink.items[0];
    EXPECT_EQ(std::get<std::string>(item.record.body.value), "hello 42");
    EXPECT_EQ(item.record.severity_number, 9);
    EXPECT_EQ(item.record.severity_text, "INFO");
    EXPECT_GT(item.record.time_unix_nano, 0u);
    EXPECT_EQ(item.origin->scope.name, "porthole.agent.fwdtest");
    EXPECT_EQ(std::get<std::string>(telemetry::find_attribute(item.origin->resource.attributes, "service.name")->value),
              "porthole-agent");
    logger("fwdtest")->error("again");
    ASSERT_EQ(sink.items.size(), 2u);
    EXPECT_EQ(sink.items[1].record.severity_number, 17);
    EXPECT_EQ(sink.items[0].origin, sink.items[1].origin);  // shared per component
  }
  logger("fwdtest")->error("after detaching");
  EXPECT_EQ(sink.items.size(), 2u);
}

TEST(AgentLogForwarder, SeverityNumbers) {
  EXPECT_EQ(severity_number(spdlog::level::trace), 1);
  EXPECT_EQ(severity_number(spdlog::level::warn), 13);
  EXPECT_EQ(severity_number(spdlog::level::critical), 21);
}

}  // namespace
}  // namespace porthole::agent

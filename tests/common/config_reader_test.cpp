#include "porthole/common/config_reader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_error.hpp"

#include "porthole/common/logging.hpp"

namespace porthole {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

ConfigNode root_of(const std::string& yaml) { return ConfigNode::root(load_yaml_string(yaml, "test.yaml"), "test.yaml"); }

std::string error_of(const std::function<void()>& f) { return porthole::testing::config_error_of(f); }

TEST(ParseDuration, AcceptsUnitsAndRejectsTheRest) {
  Duration d{};
  EXPECT_TRUE(parse_duration("1500ms", d));
  EXPECT_EQ(d, milliseconds(1500));
  EXPECT_TRUE(parse_duration("2m", d));
  EXPECT_EQ(d, std::chrono::minutes(2));
  EXPECT_TRUE(parse_duration("0.5s", d));
  EXPECT_EQ(d, milliseconds(500));
  EXPECT_TRUE(parse_duration("250us", d));
  for (const char* bad : {"", "5", "s", "-1s", "1 fortnight", "1e400s", "1.2.3s"}) {
    EXPECT_FALSE(parse_duration(bad, d)) << bad;
  }
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(seconds(120)), "2m");
}

TEST(ParseBytes, AcceptsBinaryAndDecimalUnits) {
  std::uint64_t b = 0;
  EXPECT_TRUE(parse_bytes("4096", b));
  EXPECT_EQ(b, 4096u);
  EXPECT_TRUE(parse_bytes("4MiB", b));
  EXPECT_EQ(b, 4u << 20);
  EXPECT_TRUE(parse_bytes("1.5KiB", b));
  EXPECT_EQ(b, 1536u);
  EXPECT_TRUE(parse_bytes("2KB", b));
  EXPECT_EQ(b, 2000u);
  for (const char* bad : {"", "MiB", "4 parsecs", "1.3B", "-4"}) EXPECT_FALSE(parse_bytes(bad, b)) << bad;
}

TEST(ConfigNode, ReadsValuesAndFallsBackToDefaults) {
  auto root = root_of("a: {n: 7, d: 250ms, s: hello, b: true, size: 64KiB}\n");
  auto a = root.map("a");
  EXPECT_EQ(a.integer("n", 0, 0, 10), 7);
  EXPECT_EQ(a.duration("d", seconds(1), milliseconds(1), hours(1)), milliseconds(250));
  EXPECT_EQ(a.string("s", ""), "hello");
  EXPECT_TRUE(a.boolean("b", false));
  EXPECT_EQ(a.bytes("size", 0, 0, 1 << 20), 65536u);
  EXPECT_EQ(a.string("missing", "dflt"), "dflt");
  EXPECT_EQ(root.map("absent").integer("x", 42, 0, 100), 42);
  a.reject_unknown_keys();
  root.reject_unknown_keys();
}

TEST(ConfigNode, ErrorsNameTheKeyPathAndWhatToWrite) {
  EXPECT_THAT(error_of([] { root_of("control: {heartbeat_timeout: soon}").map("control").duration(
                                "heartbeat_timeout", seconds(5), milliseconds(1), hours(1)); }),
              HasSubstr("test.yaml: control.heartbeat_timeout: 'soon' is not a duration; write a number and a unit"));
  EXPECT_THAT(error_of([] { root_of("a: {n: 70}").map("a").integer("n", 0, 1, 10); }),
              HasSubstr("a.n: '70' is out of range; it must be 1..10"));
  EXPECT_THAT(error_of([] { root_of("a: {n: x7}").map("a").integer("n", 0, 1, 10); }),
              HasSubstr("a.n: 'x7' is not an integer"));
  EXPECT_THAT(error_of([] { root_of("a: {b: maybe}").map("a").boolean("b", false); }),
              HasSubstr("a.b: 'maybe' is not a boolean"));
  EXPECT_THAT(error_of([] { root_of("a: [1, 2]").map("a"); }), HasSubstr("a: expected a map of settings"));
  EXPECT_THAT(error_of([] { root_of("a: {n: {x: 1}}").map("a").integer("n", 0, 0, 1); }),
              HasSubstr("a.n: expected an integer, found a map"));
  EXPECT_THAT(error_of([] { root_of("- 1\n- 2\n"); }), HasSubstr("the top level must be a map"));
  EXPECT_THAT(error_of([] { load_yaml_string("a: [1, 2\n", "broken.yaml"); }),
              HasSubstr("broken.yaml:2:1: YAML syntax error"));
}

TEST(ConfigNode, UnknownKeysAreErrorsNotSilentDefaults) {
  auto root = root_of("control: {heartbeat_intreval: 1s, hello_timeout: 2s}");
  auto control = root.map("control");
  control.duration("hello_timeout", seconds(5), milliseconds(1), hours(1));
  control.duration("heartbeat_interval", seconds(1), milliseconds(1), hours(1));
  const auto message = error_of([&] { control.reject_unknown_keys(); });
  EXPECT_THAT(message, HasSubstr("unknown key control.heartbeat_intreval"));
  EXPECT_THAT(message, HasSubstr("known keys here: heartbeat_interval, hello_timeout"));
}

TEST(LoggingConfig, ReadsFormatLevelAndPerComponentLevels) {
  auto c = read_logging_config(root_of("logging: {format: json, level: warn, levels: {control: debug}}").map("logging"));
  EXPECT_EQ(c.format, LoggingConfig::Format::Json);
  EXPECT_EQ(c.level, spdlog::level::warn);
  EXPECT_EQ(c.levels.at("control"), spdlog::level::debug);
  EXPECT_THAT(error_of([] { read_logging_config(root_of("logging: {format: xml}").map("logging")); }),
              HasSubstr("logging.format: 'xml' is not a log format; write text or json"));
  EXPECT_THAT(error_of([] { read_logging_config(root_of("logging: {levels: {admin: loud}}").map("logging")); }),
              HasSubstr("logging.levels.admin: 'loud' is not a log level"));
}

}  // namespace
}  // namespace porthole

#include "porthole/sidecar/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_docs.hpp"
#include "config_error.hpp"

namespace porthole::sidecar {
namespace {

using ::testing::HasSubstr;

SidecarConfig parse(const std::string& yaml) { return read_sidecar_config(load_yaml_string(yaml, "s.yaml"), "s.yaml"); }

std::string error_of(const std::string& yaml) {
  return porthole::testing::config_error_of([&] { parse(yaml); });
}

TEST(SidecarConfig, ThePrintedDefaultFileIsExactlyTheDefaults) {
  EXPECT_EQ(parse(default_sidecar_config_yaml()), SidecarConfig{});
  EXPECT_EQ(parse(""), SidecarConfig{});
}

TEST(SidecarConfig, EveryKeyIsDocumented) {
  EXPECT_THAT(porthole::testing::undocumented_keys(default_sidecar_config_yaml(), "## porthole-sidecar"),
              ::testing::IsEmpty());
}

TEST(SidecarConfig, ReadsASimulatedEnclaveSetup) {
  auto c = parse("boundary: {transport: 'uds:/tmp/e1'}\nadmin: {listen: '127.0.0.1:0', address_file: /tmp/a}\n"
                 "enclave: {name: payments}\nlogging: {format: json, levels: {control: debug}}\n");
  EXPECT_EQ(c.boundary.control_endpoint().path, "/tmp/e1/3_7000.sock");
  EXPECT_EQ(c.admin.listen, "127.0.0.1:0");
  EXPECT_EQ(c.enclave_name, "payments");
  EXPECT_EQ(c.logging.format, LoggingConfig::Format::Json);
}

TEST(SidecarConfig, GarbageAndContradictionsGetMessagesThatSayWhatToFix) {
  EXPECT_THAT(error_of("admin: {listen: 9901}"), HasSubstr("s.yaml: admin.listen: '9901' is not host:port"));
  EXPECT_THAT(error_of("admin: {listen: '127.0.0.1:99999'}"), HasSubstr("the port must be a number 0..65535"));
  EXPECT_THAT(error_of("admin: {scrape_timeout: 20s}"),
              HasSubstr("admin.scrape_timeout: must be shorter than admin.request_timeout (10s)"));
  EXPECT_THAT(error_of("enclave: {name: 'two words'}"), HasSubstr("enclave.name: 'two words' must be empty"));
  EXPECT_THAT(error_of("boundary: {transport: vsocks}"), HasSubstr("boundary.transport: 'vsocks': unknown transport"));
  EXPECT_THAT(error_of("control: {heartbeat_timeout: 500ms}"),
              HasSubstr("control.heartbeat_timeout: must be longer than control.heartbeat_interval (1s)"));
  EXPECT_THAT(error_of("adminn: {}"), HasSubstr("unknown key adminn"));
  EXPECT_THAT(error_of("control: {reconnect: {initial: 1s}}"), HasSubstr("unknown key control.reconnect"));
  EXPECT_THAT(error_of("[1, 2]"), HasSubstr("the top level must be a map"));
  EXPECT_THAT(error_of("name: ''"), HasSubstr("name: '' must be 1..64 characters"));
}

TEST(SplitHostPort, AcceptsIpv4Ipv6AndPortZero) {
  std::string host;
  std::uint16_t port = 1;
  relay::split_host_port("[::1]:0", host, port);
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  relay::split_host_port("127.0.0.1:9901", host, port);
  EXPECT_EQ(port, 9901);
  EXPECT_THROW(relay::split_host_port(":80", host, port), ConfigError);
}

}  // namespace
}  // namespace porthole::sidecar

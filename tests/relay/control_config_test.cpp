#include "porthole/relay/control_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_error.hpp"

namespace porthole::relay {
namespace {

using ::testing::HasSubstr;

ConfigNode node_of(const std::string& yaml) {
  return ConfigNode::root(load_yaml_string(yaml, "t.yaml"), "t.yaml").map("x");
}

std::string control_error_of(const std::function<void()>& f) { return porthole::testing::config_error_of(f); }

TEST(BoundaryConfig, DefaultsToRealVsockOnTheParentCid) {
  auto c = read_boundary_config(node_of("x: {}"));
  EXPECT_EQ(c.control_endpoint().to_string(), "vsock:3:7000");
  EXPECT_EQ(c.stream.vsock_buffer_bytes, 1u << 20);
}

TEST(BoundaryConfig, UdsTransportMapsToASocketFile) {
  auto c = read_boundary_config(node_of("x: {transport: 'uds:/tmp/ph', control_port: 7100}"));
  EXPECT_EQ(c.control_endpoint().path, "/tmp/ph/3_7100.sock");
}

TEST(BoundaryConfig, ErrorsNameTheKey) {
  EXPECT_THAT(control_error_of([] { read_boundary_config(node_of("x: {transport: 'udp:/x'}")); }),
              HasSubstr("t.yaml: x.transport: 'udp:/x': unknown transport"));
  EXPECT_THAT(control_error_of([] { read_boundary_config(node_of("x: {transport: 'tcp:127.0.0.1', control_port: 70000}")); }),
              HasSubstr("x.control_port: must be 1..65535 with the tcp transport"));
  EXPECT_THAT(control_error_of([] { read_boundary_config(node_of("x: {contol_port: 1}")); }),
              HasSubstr("unknown key x.contol_port"));
}

TEST(ControlConfig, RejectsAHeartbeatTimeoutNoLongerThanTheInterval) {
  EXPECT_THAT(control_error_of([] { read_control_config(node_of("x: {heartbeat_interval: 2s, heartbeat_timeout: 2s}"), false); }),
              HasSubstr("x.heartbeat_timeout: must be longer than control.heartbeat_interval (2s)"));
}

TEST(ControlConfig, ReconnectOnlyWhereTheSideDials) {
  auto c = read_control_config(node_of("x: {reconnect: {initial: 50ms, max: 10s, multiplier: 1.5}}"), true);
  EXPECT_EQ(c.reconnect.initial, std::chrono::milliseconds(50));
  EXPECT_EQ(c.reconnect.multiplier, 1.5);
  EXPECT_THAT(control_error_of([] { read_control_config(node_of("x: {reconnect: {initial: 1s}}"), false); }),
              HasSubstr("unknown key x.reconnect"));
  EXPECT_THAT(control_error_of([] { read_control_config(node_of("x: {reconnect: {initial: 5s, max: 1s}}"), true); }),
              HasSubstr("x.reconnect.max: must be at least control.reconnect.initial (5s)"));
  EXPECT_THAT(control_error_of([] { read_control_config(node_of("x: {reconnect: {multiplier: fast}}"), true); }),
              HasSubstr("x.reconnect.multiplier: 'fast' must be a number from 1 to 10"));
}

}  // namespace
}  // namespace porthole::relay

#include "porthole/ntp/chrony.hpp"

#include <gtest/gtest.h>

#include "config_error.hpp"
#include "porthole/ntp/config.hpp"

namespace porthole::ntp {
namespace {

TEST(ChronyTracking, ParsesChronycCsv) {
  // As printed by chronyc 4.3 -c tracking.
  auto t = parse_chrony_tracking_csv(
      "7F000001,127.0.0.1,9,1795435609.175168553,0.000012500,-0.000003000,0.000004000,-1.250,0.001,0.020,"
      "0.000100000,0.000200000,2.0,Normal\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->stratum, 9);
  EXPECT_DOUBLE_EQ(t->system_time_offset, -0.0000125);  // chrony says "slow": the clock is behind
  EXPECT_DOUBLE_EQ(t->last_offset, -0.000003);
  EXPECT_DOUBLE_EQ(t->frequency_ppm, -1.25);
  EXPECT_EQ(t->leap_status, 0);
  auto unsync = parse_chrony_tracking_csv("00000000,,0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,0.0,Not synchronised");
  ASSERT_TRUE(unsync);
  EXPECT_EQ(unsync->leap_status, 3);
}

TEST(ChronyTracking, RejectsAnythingElse) {
  EXPECT_FALSE(parse_chrony_tracking_csv(""));
  EXPECT_FALSE(parse_chrony_tracking_csv("506 Cannot talk to daemon"));
  EXPECT_FALSE(parse_chrony_tracking_csv("a,b,c,d,e,f,g,h,i,j,k,l,m,n"));
}

TEST(ChronyConfig, RendersTheTemplate) {
  EXPECT_EQ(render_chrony_config("server @RELAY_ADDRESS@ port @RELAY_PORT@\nbindcmdaddress @RUNTIME_DIR@/c.sock\n",
                                 "127.0.0.1", 123, "/run/x"),
            "server 127.0.0.1 port 123\nbindcmdaddress /run/x/c.sock\n");
}

ConfigNode node_of(const std::string& yaml) {
  return ConfigNode::root(load_yaml_string(yaml, "n.yaml"), "n.yaml").map("ntp");
}

TEST(NtpConfig, ValidatesWithMessagesThatSayWhatToFix) {
  using porthole::testing::config_error_of;
  EXPECT_EQ(read_sidecar_ntp_config(node_of("ntp: {}")), SidecarNtpConfig{});
  EXPECT_EQ(read_agent_ntp_config(node_of("ntp: {}")), AgentNtpConfig{});
  EXPECT_NE(config_error_of([] { read_sidecar_ntp_config(node_of("ntp: {upstreams: []}")); })
                .find("ntp.upstreams: must name at least one NTP server"),
            std::string::npos);
  EXPECT_NE(config_error_of([] { read_sidecar_ntp_config(node_of("ntp: {upstreams: ['time.example:0']}")); })
                .find("ntp.upstreams[0]: 'time.example:0': the port must be 1..65535"),
            std::string::npos);
  EXPECT_NE(config_error_of([] { read_sidecar_ntp_config(node_of("ntp: {upstreams: 'x:123'}")); })
                .find("ntp.upstreams: expected a list"),
            std::string::npos);
  EXPECT_NE(config_error_of([] { read_agent_ntp_config(node_of("ntp: {measure_interval: 10s, sync_timeout: 5s}")); })
                .find("ntp.sync_timeout: must be longer than ntp.measure_interval"),
            std::string::npos);
  EXPECT_NE(config_error_of([] { read_agent_ntp_config(node_of("ntp: {chronyd: {path: chronyd}}")); })
                .find("ntp.chronyd.path: 'chronyd' must be an absolute path"),
            std::string::npos);
}

}  // namespace
}  // namespace porthole::ntp

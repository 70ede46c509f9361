#include "request_stamp.hpp"

#include <regex>

#include <boost/asio/buffer.hpp>
#include <gtest/gtest.h>

#include "scenario.hpp"

namespace porthole::loadtest {
namespace {

std::string gather(const RequestStamper::Buffers& buffers) {
  std::string out;
  for (const auto& b : buffers) out.append(static_cast<const char*>(b.data()), b.size());
  return out;
}

TEST(RequestStamp, TraceparentNamesTheRunTheConnectionAndTheRequest) {
  const auto v = traceparent_value(0x0123456789abcdefull, 3, 0x1'0000'0005ull);
  EXPECT_TRUE(std::regex_match(v, std::regex("00-0123456789abcdef0000000300000005-[0-9a-f]{16}-01"))) << v;
  EXPECT_EQ(v.size(), kTraceparentLength);
  EXPECT_EQ(trace_id_hex(0x0123456789abcdefull, 3, 5), "0123456789abcdef0000000300000005");
  EXPECT_EQ(run_id_hex(0xabcull), "0000000000000abc");
  // A different client span for every request.
  EXPECT_NE(traceparent_value(1, 0, 0).substr(36), traceparent_value(1, 0, 1).substr(36));
  EXPECT_NE(traceparent_value(1, 0, 0).substr(36, 16), std::string(16, '0'));
}

TEST(RequestStamp, PatchesEveryRequestWithoutChangingItsLength) {
  BuiltinOptions o;
  o.fields = 2;
  o.field_size = 24;
  const auto scenario = builtin_scenario("field-encryption", WireProtocol::Http, o);
  const auto prepared = prepare_requests(scenario, "h:1", true);
  ASSERT_TRUE(prepared[0].patched());
  RequestStamper stamper(0xfeedull, 2, 4);
  const auto first = gather(stamper.buffers(prepared[0], 0));
  const auto second = gather(stamper.buffers(prepared[0], 1));
  EXPECT_EQ(first.size(), prepared[0].wire.size());
  EXPECT_EQ(second.size(), prepared[0].wire.size());
  EXPECT_NE(first.find("traceparent: " + traceparent_value(0xfeed, 2, 0) + "\r\n"), std::string::npos) << first;
  EXPECT_NE(second.find("traceparent: " + traceparent_value(0xfeed, 2, 1) + "\r\n"), std::string::npos);
  // Request number i*N + c, 20 digits, then the rest of the template value (letters 20..23).
  EXPECT_NE(first.find("\"f00\":\"00000000000000000002uvwx\""), std::string::npos) << first;
  EXPECT_NE(second.find("\"f00\":\"00000000000000000006uvwx\""), std::string::npos) << second;
  // The template itself is untouched.
  EXPECT_NE(prepared[0].wire.find(traceparent_placeholder()), std::string::npos);
}

TEST(RequestStamp, NarrowFieldsKeepTheLastDigits) {
  BuiltinOptions o;
  o.fields = 1;
  o.field_size = 3;
  const auto prepared = prepare_requests(builtin_scenario("field-encryption", WireProtocol::Http, o), "h:1", false);
  RequestStamper stamper(1, 0, 1);
  EXPECT_NE(gather(stamper.buffers(prepared[0], 1234)).find("\"f00\":\"234\""), std::string::npos);
}

}  // namespace
}  // namespace porthole::loadtest

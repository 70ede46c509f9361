#include "scenario.hpp"

#include "request_stamp.hpp"

#include <map>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_scenario(text);
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

TEST(Scenario, ParsesTemplatesWeightsHeadersAndBodies) {
  const auto s = parse_scenario(R"({"name": "mix", "requests": [
      {"name": "health", "path": "/health"},
      {"name": "post", "method": "POST", "path": "/echo", "weight": 3,
       "headers": {"content-type": "application/json", "x-tenant": "a"}, "body": "{\"a\":1}"}]})");
  EXPECT_EQ(s.name, "mix");
  EXPECT_EQ(s.protocol, WireProtocol::Http);
  ASSERT_EQ(s.requests.size(), 2u);
  EXPECT_EQ(s.requests[0].method, "GET");
  EXPECT_EQ(s.requests[0].weight, 1u);
  EXPECT_EQ(s.requests[1].weight, 3u);
  EXPECT_EQ(s.requests[1].headers.size(), 2u);
  EXPECT_EQ(s.requests[1].body, "{\"a\":1}");
}

TEST(Scenario, ParsesRawTcp) {
  const auto s = parse_scenario(R"({"protocol": "tcp", "requests": [
      {"body": "PING\n", "response_until": "\n"}, {"body": "abcd", "response_bytes": 4}]})");
  EXPECT_EQ(s.protocol, WireProtocol::Tcp);
  EXPECT_EQ(s.requests[0].response_until, "\n");
  EXPECT_EQ(s.requests[1].response_bytes, 4u);
}

TEST(Scenario, RejectsBadInputWithTheFieldNamed) {
  EXPECT_NE(error_of("{").find("invalid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": []})").find("scenario.requests"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"pth": "/"}]})").find("requests[0]: unknown field 'pth'"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"path": "nope"}]})").find("requests[0].path"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"method": "GE T"}]})").find("requests[0].method"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"weight": 0}]})").find("requests[0].weight"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"headers": {"x": "a\r\nb"}}]})").find("requests[0].headers.x"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"protocol": "tcp", "requests": [{"body": "x"}]})").find("exactly one of"), std::string::npos);
  EXPECT_NE(error_of(R"({"protocol": "udp", "requests": [{}]})").find("scenario.protocol"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"body": "a", "body_file": "b"}]})").find("not both"), std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"body_file": "/nonexistent/x"}]})").find("cannot read"), std::string::npos);
  // Framing is porthole-loadtest's: a template's own would duplicate it.
  EXPECT_NE(error_of(R"({"requests": [{"body": "x", "headers": {"Content-Length": "1"}}]})")
                .find("requests[0].headers.Content-Length: set from the body"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"headers": {"transfer-encoding": "chunked"}}]})").find("remove it"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"requests": [{"headers": {"x-a": "1", "X-A": "2"}}]})").find("given twice"),
            std::string::npos);
}

TEST(Scenario, PreparesHttp11Requests) {
  Scenario s = parse_scenario(R"({"requests": [{"method": "POST", "path": "/echo", "body": "hello"},
                                               {"path": "/health", "headers": {"Host": "h"}}]})");
  const auto p = prepare_requests(s, "127.0.0.1:8080");
  EXPECT_EQ(p[0].wire,
            "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: porthole-loadtest\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(p[1].wire, "GET /health HTTP/1.1\r\nUser-Agent: porthole-loadtest\r\nHost: h\r\n\r\n");
  EXPECT_FALSE(p[0].patched());
}

TEST(Scenario, TemplateHeadersReplaceOursAndATraceparentPlaceholderIsAdded) {
  Scenario s = parse_scenario(R"({"requests": [
      {"path": "/a", "headers": {"user-agent": "mine", "HOST": "h"}},
      {"path": "/b", "headers": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}]})");
  const auto p = prepare_requests(s, "127.0.0.1:8080", true);
  EXPECT_EQ(p[0].wire, "GET /a HTTP/1.1\r\ntraceparent: " + traceparent_placeholder() +
                           "\r\nuser-agent: mine\r\nHOST: h\r\n\r\n");
  EXPECT_EQ(p[0].wire.substr(p[0].traceparent_at, kTraceparentLength), traceparent_placeholder());
  // The template's own traceparent is sent as it is, once.
  EXPECT_EQ(p[1].traceparent_at, PreparedRequest::kNone);
  EXPECT_EQ(p[1].wire.find("traceparent"), p[1].wire.rfind("traceparent"));
  // Raw TCP never gets one.
  Scenario tcp = parse_scenario(R"({"protocol": "tcp", "requests": [{"body": "x", "response_bytes": 1}]})");
  EXPECT_FALSE(prepare_requests(tcp, "h:1", true)[0].patched());
}

TEST(Scenario, BuiltInsAndTheFieldEncryptionDocument) {
  BuiltinOptions o;
  o.fields = 5;
  o.field_size = 8;
  const auto fe = builtin_scenario("field-encryption", WireProtocol::Http, o);
  ASSERT_EQ(fe.requests.size(), 1u);
  EXPECT_EQ(fe.requests[0].path, "/encrypt");
  const auto doc = boost::json::parse(fe.requests[0].body);
  EXPECT_EQ(doc.at("fields").as_object().size(), 5u);
  EXPECT_EQ(doc.at("fields").at("f00").as_string().size(), 8u);
  // The request number goes over the start of f00's value.
  EXPECT_EQ(fe.requests[0].body.substr(fe.requests[0].counter_offset, 8), "abcdefgh");
  EXPECT_EQ(fe.requests[0].counter_width, 8u);
  const auto prepared = prepare_requests(fe, "h:1", false);
  EXPECT_EQ(prepared[0].wire.substr(prepared[0].counter_at, 8), "abcdefgh");
  o.cipher = "chacha20-poly1305";
  o.curve = "x25519";
  EXPECT_EQ(builtin_scenario("field-encryption", WireProtocol::Http, o).requests[0].path,
            "/encrypt?cipher=chacha20-poly1305&curve=x25519");
  EXPECT_EQ(builtin_scenario("echo", WireProtocol::Tcp, o).requests[0].response_bytes, 64u);
  EXPECT_THROW(builtin_scenario("field-encryption", WireProtocol::Tcp, o), ScenarioError);
  EXPECT_TRUE(is_builtin_scenario("get"));
  EXPECT_FALSE(is_builtin_scenario("scenario.json"));
}

TEST(WeightedPicker, PicksInProportionAndSpreadsThemOut) {
  WeightedPicker p({1, 3, 6});
  std::map<std::size_t, int> counts;
  for (int i = 0; i < 1000; ++i) ++counts[p.next()];
  EXPECT_EQ(counts[0], 100);
  EXPECT_EQ(counts[1], 300);
  EXPECT_EQ(counts[2], 600);
  WeightedPicker q({1, 1});
  EXPECT_NE(q.next(), q.next());  // alternates, no bursts
}

}  // namespace
}  // namespace porthole::loadtest

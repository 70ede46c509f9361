// The agent's OTLP/HTTP receiver: what each request gets back (status, body, encoding), what
// reaches the batch processors, and the policy applied on the way. OtlpIngest directly, then
// the Beast server over a real loopback socket.
#include <deque>

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <prometheus/registry.h>

#include "porthole/agent/otlp_ingest.hpp"
#include "porthole/agent/otlp_receiver.hpp"
#include "porthole/common/manual_time.hpp"
#include "porthole/telemetry/gzip.hpp"
#include "porthole/telemetry/otlp_json.hpp"
#include "porthole/telemetry/otlp_proto.hpp"
#include "raw_control_peer.hpp"

namespace porthole::agent {
namespace {

using telemetry::LogItem;
using telemetry::SpanItem;

template <class Item>
class RecordingSink final : public telemetry::ItemSink<Item> {
 public:
  explicit RecordingSink(std::size_t capacity = 1000) : capacity_(capacity) {}
  bool submit(Item&& item) override {
    if (items.size() >= capacity_) return false;
    items.push_back(std::move(item));
    return true;
  }
  std::vector<Item> items;

 private:
  std::size_t capacity_;
};

telemetry::TraceBatch sample_traces(int spans) {
  telemetry::TraceBatch b;
  auto& rs = b.resource_spans.emplace_back();
  rs.resource.attributes.push_back({"service.name", "shop"});
  auto& ss = rs.scope_spans.emplace_back();
  ss.scope.name = "test";
  for (int i = 0; i < spans; ++i) {
    telemetry::Span s;
    s.trace_id.bytes.fill(0x11);
    s.span_id.bytes.fill(static_cast<std::uint8_t>(i + 1));
    if (i > 0) s.parent_span_id.bytes.fill(1);
    s.name = "GET /items";
    s.kind = 2;
    s.start_time_unix_nano = 1000;
    s.end_time_unix_nano = 2000;
    s.attributes.push_back({"http.request.method", "GET"});
    s.attributes.push_back({"url.full", "https://shop/items?token=secret"});
    s.attributes.push_back({"http.request.header.authorization", "Bearer secret"});
    ss.spans.push_back(std::move(s));
  }
  return b;
}

telemetry::LogBatch sample_logs(int records) {
  telemetry::LogBatch b;
  auto& rl = b.resource_logs.emplace_back();
  auto& sl = rl.scope_logs.emplace_back();
  for (int i = 0; i < records; ++i) {
    telemetry::LogRecord r;
    r.time_unix_nano = 5;
    r.severity_number = 9;
    r.body = "user alice logged in with password hunter2";
    sl.log_records.push_back(std::move(r));
  }
  return b;
}

class OtlpIngestTest : public ::testing::Test {
 protected:
  OtlpHttpResponse post(std::string target, std::string type, std::string body, std::string encoding = "") {
    return ingest_.handle({"POST", std::move(target), std::move(type), std::move(encoding), std::move(body)});
  }
  double requests(const std::string& signal, const std::string& code) {
    for (const auto& f : registry_.Collect()) {
      if (f.name != "porthole_otlp_receiver_requests_total") continue;
      for (const auto& m : f.metric) {
        bool s = false, c = false;
        for (const auto& l : m.label) {
          s |= l.name == "signal" && l.value == signal;
          c |= l.name == "code" && l.value == code;
        }
        if (s && c) return m.counter.value;
      }
    }
    return 0;
  }

  ManualTimeSource time_;
  prometheus::Registry registry_;
  telemetry::TelemetryPolicy policy_ = telemetry::default_telemetry_policy();
  RecordingSink<SpanItem> spans_{10};
  RecordingSink<LogItem> logs_{10};
  OtlpIngest ingest_{policy_, spans_, logs_, registry_, 64 * 1024, time_};
};

TEST_F(OtlpIngestTest, ProtobufTracesAreFilteredAndQueued) {
  auto r = post("/v1/traces", "application/x-protobuf", telemetry::encode_trace_request(sample_traces(3)));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  telemetry::OtlpPartialSuccess partial;
  std::string error;
  ASSERT_TRUE(telemetry::decode_trace_response(r.body, partial, error)) << error;
  EXPECT_TRUE(partial.full_success());
  ASSERT_EQ(spans_.items.size(), 3u);
  const auto& attrs = spans_.items[1].span.attributes;
  EXPECT_NE(telemetry::find_attribute(attrs, "http.request.method"), nullptr);
  EXPECT_EQ(telemetry::find_attribute(attrs, "url.full"), nullptr);
  EXPECT_EQ(telemetry::find_attribute(attrs, "http.request.header.authorization"), nullptr);
  EXPECT_EQ(spans_.items[1].span.dropped_attributes_count, 2u);
  EXPECT_TRUE(spans_.items[1].span.parent_span_id.valid());
  EXPECT_EQ(requests("traces", "200"), 1);
}

TEST_F(OtlpIngestTest, JsonTracesGetAJsonAnswer) {
  auto r = post("/v1/traces", "application/json; charset=utf-8", telemetry::encode_trace_request_json(sample_traces(2)));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/json");
  telemetry::OtlpPartialSuccess partial;
  std::string error;
  ASSERT_TRUE(telemetry::decode_trace_response_json(r.body, partial, error)) << r.body << " " << error;
  EXPECT_TRUE(partial.full_success());
  EXPECT_EQ(spans_.items.size(), 2u);
}

TEST_F(OtlpIngestTest, GzipBodiesAreInflated) {
  auto body = telemetry::gzip_compress(telemetry::encode_trace_request(sample_traces(4)));
  ASSERT_TRUE(body);
  EXPECT_EQ(post("/v1/traces", "application/x-protobuf", *body, "gzip").status, 200u);
  EXPECT_EQ(spans_.items.size(), 4u);
  EXPECT_EQ(post("/v1/traces", "application/x-protobuf", "not gzip at all", "gzip").status, 400u);
}

TEST_F(OtlpIngestTest, GzipBombIsRefused) {
  auto bomb = telemetry::gzip_compress(std::string(1 << 20, 'a'));
  ASSERT_TRUE(bomb);
  ASSERT_LT(bomb->size(), 64u * 1024);
  auto r = post("/v1/traces", "application/x-protobuf", *bomb, "gzip");
  EXPECT_EQ(r.status, 400u);
  EXPECT_TRUE(spans_.items.empty());
}

TEST_F(OtlpIngestTest, LogsDropTheirBodiesByDefault) {
  auto r = post("/v1/logs", "application/x-protobuf", telemetry::encode_logs_request(sample_logs(2)));
  EXPECT_EQ(r.status, 200u);
  ASSERT_EQ(logs_.items.size(), 2u);
  EXPECT_TRUE(logs_.items[0].record.body.empty());
  telemetry::OtlpPartialSuccess partial;
  std::string error;
  ASSERT_TRUE(telemetry::decode_logs_response(r.body, partial, error));
  EXPECT_TRUE(partial.full_success());
}

TEST_F(OtlpIngestTest, AFullQueueIsAPartialSuccess) {
  auto r = post("/v1/traces", "application/x-protobuf", telemetry::encode_trace_request(sample_traces(14)));
  EXPECT_EQ(r.status, 200u);
  telemetry::OtlpPartialSuccess partial;
  std::string error;
  ASSERT_TRUE(telemetry::decode_trace_response(r.body, partial, error));
  EXPECT_EQ(partial.rejected, 4);
  EXPECT_NE(partial.error_message.find("4 of 14 spans dropped"), std::string::npos) << partial.error_message;
  auto j = post("/v1/logs", "application/json", telemetry::encode_logs_request_json(sample_logs(12)));
  ASSERT_TRUE(telemetry::decode_logs_response_json(j.body, partial, error)) << j.body;
  EXPECT_EQ(partial.rejected, 2);
}

TEST_F(OtlpIngestTest, MalformedInputIs400WithAStatus) {
  auto r = post("/v1/traces", "application/x-protobuf", std::string("\x0a\xff\xff\xff\x0f", 5));
  EXPECT_EQ(r.status, 400u);
  // google.rpc.Status: code 3 (INVALID_ARGUMENT), then the message.
  ASSERT_GE(r.body.size(), 4u);
  EXPECT_EQ(r.body.substr(0, 3), std::string("\x08\x03\x12", 3));
  EXPECT_NE(r.body.find("malformed ExportTraceServiceRequest"), std::string::npos);
  auto j = post("/v1/logs", "application/json", "{\"resourceLogs\": 7}");
  EXPECT_EQ(j.status, 400u);
  EXPECT_EQ(j.content_type, "application/json");
  EXPECT_NE(j.body.find("\"code\":3"), std::string::npos) << j.body;
  EXPECT_EQ(requests("traces", "400"), 1);
  EXPECT_EQ(requests("logs", "400"), 1);
  EXPECT_TRUE(spans_.items.empty());
}

TEST_F(OtlpIngestTest, WrongPathMethodTypeOrEncoding) {
  EXPECT_EQ(post("/v1/metrics", "application/x-protobuf", "").status, 404u);
  EXPECT_EQ(post("/", "application/x-protobuf", "").status, 404u);
  auto get = ingest_.handle({"GET", "/v1/traces", "", "", ""});
  EXPECT_EQ(get.status, 405u);
  EXPECT_TRUE(get.allow_post_header);
  EXPECT_EQ(post("/v1/traces", "text/plain", "x").status, 415u);
  EXPECT_EQ(post("/v1/traces", "application/x-protobuf", "x", "br").status, 415u);
  EXPECT_EQ(ingest_.too_large("/v1/logs", "application/json").status, 413u);
  EXPECT_EQ(requests("logs", "413"), 1);
}

TEST_F(OtlpIngestTest, AnEmptyRequestIsFine) {
  EXPECT_EQ(post("/v1/traces", "application/x-protobuf", "").status, 200u);
  EXPECT_EQ(post("/v1/logs", "application/json", "{}").status, 200u);
}

// ---- the Beast server -------------------------------------------------------------------------

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

class OtlpReceiverTest : public OtlpIngestTest {
 protected:
  OtlpReceiverTest() {
    config_.listen = "127.0.0.1:0";
    config_.max_request_bytes = 64 * 1024;
    config_.max_connections = 2;
    receiver_.start();
  }
  ~OtlpReceiverTest() override { receiver_.stop(); }

  void connect(tcp::socket& s) {
    s.connect(receiver_.local_endpoint());
    porthole::testing::settle(io_);
  }
  // Writes a request and runs the server until the whole response is there.
  http::response<http::string_body> exchange(tcp::socket& s, http::request<http::string_body> req) {
    req.prepare_payload();
    http::write(s, req);
    s.non_blocking(true);
    http::response_parser<http::string_body> parser;
    beast::error_code ec;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      porthole::testing::settle(io_);
      ec = {};
      http::read(s, buffer_, parser, ec);
      if (!ec || ec != boost::asio::error::would_block) break;
    }
    s.non_blocking(false);
    EXPECT_FALSE(ec) << ec.message();
    return parser.release();
  }
  http::request<http::string_body> request(const std::string& target, const std::string& type, std::string body) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, type);
    req.body() = std::move(body);
    return req;
  }

  boost::asio::io_context io_;
  OtlpReceiverConfig config_;
  OtlpReceiver receiver_{io_.get_executor(), config_, ingest_};
  beast::flat_buffer buffer_;
};

TEST_F(OtlpReceiverTest, KeepAliveServesSeveralRequests) {
  tcp::socket s(io_);
  connect(s);
  auto r1 = exchange(s, request("/v1/traces", "application/x-protobuf", telemetry::encode_trace_request(sample_traces(2))));
  EXPECT_EQ(r1.result_int(), 200);
  EXPECT_TRUE(r1.keep_alive());
  auto r2 = exchange(s, request("/v1/logs", "application/json", telemetry::encode_logs_request_json(sample_logs(1))));
  EXPECT_EQ(r2.result_int(), 200);
  EXPECT_EQ(r2[http::field::content_type], "application/json");
  auto r3 = exchange(s, request("/nope", "application/json", "{}"));
  EXPECT_EQ(r3.result_int(), 404);
  EXPECT_EQ(spans_.items.size(), 2u);
  EXPECT_EQ(logs_.items.size(), 1u);
}

TEST_F(OtlpReceiverTest, ABodyOverTheLimitIs413AndCloses) {
  tcp::socket s(io_);
  connect(s);
  // The declared length alone is over the limit: the server answers before any body is sent
  // (sending one it will not read would end in a reset instead of the answer).
  const std::string head =
      "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
      "Content-Length: 100000\r\n\r\n";
  boost::asio::write(s, boost::asio::buffer(head));
  s.non_blocking(true);
  http::response_parser<http::string_body> parser;
  beast::error_code ec;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    porthole::testing::settle(io_);
    ec = {};
    http::read(s, buffer_, parser, ec);
    if (!ec || ec != boost::asio::error::would_block) break;
  }
  ASSERT_FALSE(ec) << ec.message();
  auto r = parser.release();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_EQ(requests("traces", "413"), 1);
}

TEST_F(OtlpReceiverTest, ConnectionsBeyondTheLimitAreClosed) {
  tcp::socket a(io_), b(io_), c(io_);
  connect(a);
  connect(b);
  connect(c);
  EXPECT_EQ(receiver_.open_connections(), 2);
  // The third was closed by the server: reading gives EOF.
  c.non_blocking(false);
  std::array<char, 16> buf{};
  boost::system::error_code ec;
  c.read_some(boost::asio::buffer(buf), ec);
  EXPECT_EQ(ec, boost::asio::error::eof);
}

}  // namespace
}  // namespace porthole::agent

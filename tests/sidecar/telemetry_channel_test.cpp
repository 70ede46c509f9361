// The telemetry channel end to end in one process: the agent's batch processors and channel
// client, the sidecar's server, over a real uds socket, with time advanced by hand. Then the
// sidecar alone against a raw (hostile) agent, and the forwarder's JSON-lines output.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <prometheus/registry.h>

#include "porthole/agent/telemetry_channel_client.hpp"
#include "porthole/common/manual_time.hpp"
#include "porthole/sidecar/telemetry_forwarder.hpp"
#include "porthole/sidecar/telemetry_server.hpp"
#include "porthole/telemetry/otlp_proto.hpp"
#include "porthole/telemetry/telemetry_channel.hpp"
#include "raw_control_peer.hpp"

namespace porthole::sidecar {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

double metric(prometheus::Registry& r, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  for (const auto& f : r.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found |= (l.name == k && l.value == v);
        match &= found;
      }
      if (!match) continue;
      if (f.type == prometheus::MetricType::Counter) return m.counter.value;
      if (f.type == prometheus::MetricType::Gauge) return m.gauge.value;
    }
  }
  return -1;
}

class RecordingSink final : public TelemetrySink {
 public:
  void on_spans(telemetry::TraceBatch&& b) override {
    for (auto& item : telemetry::split_batch(std::move(b))) spans.push_back(std::move(item));
  }
  void on_logs(telemetry::LogBatch&& b) override {
    for (auto& item : telemetry::split_batch(std::move(b))) logs.push_back(std::move(item));
  }
  std::vector<telemetry::SpanItem> spans;
  std::vector<telemetry::LogItem> logs;
};

telemetry::SpanItem span(int i, std::size_t attribute_bytes = 10) {
  static auto origin = std::make_shared<const telemetry::ItemOrigin>(
      telemetry::ItemOrigin{{{{"service.name", "shop"}}, 0}, "", {"scope", "1.0", {}, 0}, ""});
  telemetry::SpanItem item{origin, {}};
  item.span.trace_id.bytes.fill(0xab);
  item.span.span_id.bytes.fill(static_cast<std::uint8_t>(i + 1));
  item.span.span_id.bytes[0] = static_cast<std::uint8_t>(i >> 8);
  item.span.name = "op";
  item.span.start_time_unix_nano = 1;
  item.span.end_time_unix_nano = 2;
  item.span.attributes.push_back({"blob", std::string(attribute_bytes, 'x')});
  return item;
}

telemetry::LogItem log_item() {
  static auto origin = std::make_shared<const telemetry::ItemOrigin>();
  telemetry::LogItem item{origin, {}};
  item.record.severity_number = 9;
  item.record.body = "hello";
  return item;
}

class TelemetryChannelTest : public ::testing::Test {
 protected:
  TelemetryChannelTest() {
    char tmpl[] = "/tmp/porthole-tel-XXXXXX";
    dir_ = mkdtemp(tmpl);
    transport_ = relay::parse_transport("uds:" + dir_);
    sidecar_config_.max_frame_bytes = 64 * 1024;
    sidecar_config_.max_batch_bytes = 1 << 20;
    agent_config_.max_frame_bytes = 64 * 1024;
    batch_.scheduled_delay = seconds(1);
    batch_.max_export_batch_size = 512;
    batch_.max_queue_size = 1024;
  }
  ~TelemetryChannelTest() override {
    spans_.reset();
    logs_.reset();
    if (client_) client_->stop();
    if (server_) server_->stop();
    std::filesystem::remove_all(dir_);
  }

  void start_server() {
    server_.emplace(io_.get_executor(), time_, sidecar_config_, transport_.endpoint(3, 7001), relay::StreamOptions{},
                    sink_, parent_);
    server_->start();
  }
  void start_agent() {
    relay::DialerOptions dialer{"telemetry", transport_.endpoint(3, 7001), {}, {milliseconds(100), seconds(1), 2.0},
                                seconds(1)};
    client_.emplace(io_.get_executor(), time_, agent_config_, dialer, enclave_, [] { return 0.0; });
    spans_.emplace(io_.get_executor(), time_, client_->span_exporter(), enclave_, batch_);
    logs_.emplace(io_.get_executor(), time_, client_->log_exporter(), enclave_, batch_);
    client_->start();
  }
  // Real sockets under manual time: run handlers until `done` or 10 s of wall time.
  template <class F>
  bool run_until(F done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.restart();
      io_.poll();
    }
    return true;
  }

  std::string dir_;
  relay::Transport transport_;
  boost::asio::io_context io_;
  ManualTimeSource time_;
  prometheus::Registry parent_, enclave_;
  SidecarTelemetryConfig sidecar_config_;
  agent::TelemetryChannelConfig agent_config_;
  telemetry::BatchConfig batch_;
  RecordingSink sink_;
  std::optional<TelemetryServer> server_;
  std::optional<agent::TelemetryChannelClient> client_;
  std::optional<telemetry::SpanBatchProcessor> spans_;
  std::optional<telemetry::LogBatchProcessor> logs_;
};

TEST_F(TelemetryChannelTest, SpansAndLogsCrossTheChannelAndAreAcked) {
  start_server();
  start_agent();
  ASSERT_TRUE(run_until([&] { return client_->ready() && server_->connected(); }));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(spans_->submit(span(i)));
  EXPECT_TRUE(logs_->submit(log_item()));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().exported == 3 && logs_->stats().exported == 1; }));
  ASSERT_EQ(sink_.spans.size(), 3u);
  ASSERT_EQ(sink_.logs.size(), 1u);
  EXPECT_EQ(sink_.spans[2].span, span(2).span);
  EXPECT_EQ(sink_.logs[0].record, log_item().record);
  EXPECT_EQ(metric(enclave_, "porthole_telemetry_channel_frames_total", {{"signal", "spans"}}), 1);
  EXPECT_EQ(metric(parent_, "porthole_telemetry_channel_items_total", {{"signal", "spans"}}), 3);
  EXPECT_EQ(metric(parent_, "porthole_telemetry_channel_connected"), 1);
  EXPECT_EQ(metric(enclave_, "porthole_telemetry_channel_connected"), 1);
}

TEST_F(TelemetryChannelTest, GzipShrinksTheFrames) {
  agent_config_.compression = telemetry::ChannelCompression::Gzip;
  start_server();
  start_agent();
  ASSERT_TRUE(run_until([&] { return client_->ready(); }));
  for (int i = 0; i < 100; ++i) spans_->submit(span(i, 200));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().exported == 100; }));
  EXPECT_EQ(sink_.spans.size(), 100u);
  const auto wire = metric(enclave_, "porthole_telemetry_channel_bytes_total", {{"signal", "spans"}});
  const auto plain = metric(enclave_, "porthole_telemetry_channel_uncompressed_bytes_total", {{"signal", "spans"}});
  EXPECT_LT(wire * 5, plain) << wire << " vs " << plain;
  EXPECT_EQ(metric(parent_, "porthole_telemetry_channel_bytes_total", {{"signal", "spans"}}), wire);
}

TEST_F(TelemetryChannelTest, ABatchLargerThanAFrameGoesInParts) {
  start_server();
  start_agent();
  ASSERT_TRUE(run_until([&] { return client_->ready(); }));
  // 200 spans of ~1 KiB: about 3 frames of 64 KiB; one giant alone cannot fit and is dropped.
  for (int i = 0; i < 200; ++i) spans_->submit(span(i, 1000));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().exported == 200; }));
  EXPECT_EQ(sink_.spans.size(), 200u);
  EXPECT_GE(metric(enclave_, "porthole_telemetry_channel_frames_total", {{"signal", "spans"}}), 3);
  spans_->submit(span(999, 100 * 1024));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().dropped_export_failed == 1; }));
  EXPECT_EQ(metric(enclave_, "porthole_telemetry_channel_errors_total", {{"reason", "oversized"}}), 1);
  // A giant among ordinary spans: it alone is dropped (export_failed), the others are delivered
  // and counted exported — not the whole batch either way.
  for (int i = 0; i < 10; ++i) spans_->submit(span(1000 + i, i == 5 ? 100 * 1024 : 100));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().exported == 209; }));
  EXPECT_EQ(spans_->stats().dropped_export_failed, 2u);
  EXPECT_EQ(sink_.spans.size(), 209u);
  EXPECT_EQ(metric(enclave_, "porthole_telemetry_channel_errors_total", {{"reason", "oversized"}}), 2);
}

TEST_F(TelemetryChannelTest, WithTheSidecarDownExportsFailAndAreCounted) {
  start_agent();
  for (int i = 0; i < 5; ++i) spans_->submit(span(i));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().dropped_export_failed == 5; }));
  EXPECT_EQ(metric(enclave_, "porthole_telemetry_channel_errors_total", {{"reason", "not_connected"}}), 1);
  // The sidecar comes up; the dialer finds it and the next batch goes through.
  start_server();
  // Small steps: one big advance would also fire the dial's connect timeout before the
  // connect's completion handler had a chance to run.
  ASSERT_TRUE(run_until([&] {
    time_.advance(milliseconds(10));
    io_.restart();
    io_.poll();
    return client_->ready();
  }));
  spans_->submit(span(7));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().exported == 1; }));
  EXPECT_EQ(sink_.spans.size(), 1u);
}

TEST_F(TelemetryChannelTest, LosingTheSessionFailsWaitingExports) {
  start_server();
  start_agent();
  ASSERT_TRUE(run_until([&] { return client_->ready(); }));
  server_->stop();
  ASSERT_TRUE(run_until([&] { return !client_->ready(); }));
  spans_->submit(span(1));
  time_.advance(seconds(1));
  ASSERT_TRUE(run_until([&] { return spans_->stats().dropped_export_failed == 1; }));
}

// ---- the sidecar against a raw agent ----------------------------------------------------------

class RawAgentTest : public TelemetryChannelTest {
 protected:
  RawAgentTest() {
    start_server();
    raw_.emplace(io_);
    boost::system::error_code ec;
    bool connected = false;
    relay::async_connect(*raw_, transport_.endpoint(3, 7001), [&](boost::system::error_code e) {
      ec = e;
      connected = true;
    });
    EXPECT_TRUE(run_until([&] { return connected; }));
    EXPECT_FALSE(ec) << ec.message();
  }
  void send(telemetry::TelemetryFrameType type, const std::string& payload) {
    std::string frame;
    relay::encode_frame(static_cast<std::uint8_t>(type), payload, frame);
    porthole::testing::raw_write(*raw_, frame);
  }
  // Frames from the sidecar so far (after running it), decoded.
  std::vector<relay::Frame> receive() {
    porthole::testing::settle(io_);
    std::vector<relay::Frame> out;
    std::array<char, 4096> buf{};
    boost::system::error_code ec;
    raw_->non_blocking(true);
    for (;;) {
      const auto n = raw_->read_some(boost::asio::buffer(buf), ec);
      if (ec) break;
      decoder_.feed(buf.data(), n);
    }
    eof_ = ec == boost::asio::error::eof;
    while (auto f = decoder_.next()) out.push_back(std::move(*f));
    return out;
  }
  std::optional<telemetry::Ack> wait_ack() {
    std::optional<telemetry::Ack> ack;
    run_until([&] {
      for (auto& f : receive()) {
        if (f.type == 4) ack = telemetry::decode_ack(f.payload);
      }
      return ack.has_value() || eof_;
    });
    return ack;
  }
  std::string batch(std::uint64_t seq, std::string_view request) {
    return *telemetry::encode_batch_payload(seq, telemetry::ChannelCompression::None, request);
  }

  std::optional<relay::Stream> raw_;
  relay::FrameDecoder decoder_{relay::FrameLimits::of(1 << 20, {1, 2, 3, 4})};
  bool eof_ = false;
};

TEST_F(RawAgentTest, AMalformedBatchIsRejectedAndTheChannelCarriesOn) {
  send(telemetry::TelemetryFrameType::Hello, telemetry::encode_channel_hello());
  send(telemetry::TelemetryFrameType::Spans, batch(7, std::string("\x0a\xff\xff\xff\xff\x0f", 6)));
  auto ack = wait_ack();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->seq, 7u);
  EXPECT_EQ(ack->status, telemetry::AckStatus::Rejected);
  EXPECT_EQ(metric(parent_, "porthole_telemetry_channel_errors_total", {{"reason", "malformed"}}), 1);
  // Corrupt gzip too.
  std::string gz = batch(8, "not gzip");
  gz[8] = 1;
  send(telemetry::TelemetryFrameType::Logs, gz);
  ack = wait_ack();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, telemetry::AckStatus::Rejected);
  // A valid batch after that is accepted.
  telemetry::TraceBatch good;
  std::vector<telemetry::SpanItem> items{span(1)};
  good = telemetry::group_items(std::move(items));
  send(telemetry::TelemetryFrameType::Spans, batch(9, telemetry::encode_trace_request(good)));
  ack = wait_ack();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->seq, 9u);
  EXPECT_EQ(ack->status, telemetry::AckStatus::Accepted);
  EXPECT_EQ(sink_.spans.size(), 1u);
}

TEST_F(RawAgentTest, ABatchBeforeHelloClosesTheChannel) {
  send(telemetry::TelemetryFrameType::Spans, batch(1, ""));
  EXPECT_FALSE(wait_ack());
  EXPECT_TRUE(eof_);
  EXPECT_EQ(metric(parent_, "porthole_frames_rejected_total", {{"channel", "telemetry"}, {"reason", "malformed"}}), 1);
}

TEST_F(RawAgentTest, AnotherVersionClosesTheChannel) {
  send(telemetry::TelemetryFrameType::Hello, std::string("\x00\x09", 2));
  EXPECT_FALSE(wait_ack());
  EXPECT_TRUE(eof_);
  EXPECT_EQ(metric(parent_, "porthole_telemetry_channel_errors_total", {{"reason", "version_mismatch"}}), 1);
}

TEST_F(RawAgentTest, AnOversizedFrameClosesTheChannel) {
  send(telemetry::TelemetryFrameType::Hello, telemetry::encode_channel_hello());
  send(telemetry::TelemetryFrameType::Spans, batch(1, std::string(100 * 1024, 'x')));
  EXPECT_FALSE(wait_ack());
  EXPECT_TRUE(eof_);
  EXPECT_EQ(metric(parent_, "porthole_frames_rejected_total", {{"channel", "telemetry"}, {"reason", "oversized"}}), 1);
}

// ---- the forwarder's JSON lines ---------------------------------------------------------------

TEST(TelemetryForwarderTest, WritesOneOtlpJsonObjectPerSpanAndLogRecord) {
  char tmpl[] = "/tmp/porthole-jsonl-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const auto path = dir + "/out.jsonl";
  prometheus::Registry registry;
  {
    telemetry::JsonlFileWriterConfig jc;
    jc.path = path;
    telemetry::JsonlFileWriter writer(jc);
    TelemetryForwarder forwarder(nullptr, telemetry::OtlpExporterConfig::Encoding::Protobuf, &writer, registry);
    std::vector<telemetry::SpanItem> spans{span(1), span(2), span(3)};
    forwarder.on_spans(telemetry::group_items(std::move(spans)));
    std::vector<telemetry::LogItem> logs{log_item()};
    forwarder.on_logs(telemetry::group_items(std::move(logs)));
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  auto first = boost::json::parse(lines[0]).as_object();
  auto& s = first.at("resourceSpans").as_array()[0].at("scopeSpans").as_array()[0].at("spans").as_array();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].at("spanId").as_string(), span(1).span.span_id.hex());
  EXPECT_TRUE(boost::json::parse(lines[3]).as_object().contains("resourceLogs"));
  EXPECT_EQ(metric(registry, "porthole_telemetry_jsonl_lines_total", {{"result", "written"}}), 4);
  std::filesystem::remove_all(dir);
}

// stdout piped into a reader that stalled: the forwarder (on the io thread) must not block; the
// lines that do not fit the writer's buffer are counted, and the rest goes out once it reads.
TEST(TelemetryForwarderTest, AStalledJsonlReaderCostsLinesNotTheIoThread) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  prometheus::Registry registry;
  telemetry::JsonlFileWriterConfig jc;
  jc.fd = fds[1];
  jc.max_buffer_bytes = 16u << 10;
  jc.close_timeout = std::chrono::milliseconds(0);
  telemetry::JsonlFileWriter writer(jc);
  TelemetryForwarder forwarder(nullptr, telemetry::OtlpExporterConfig::Encoding::Protobuf, &writer, registry);
  // ~300 bytes a line: 2000 lines are far more than the pipe (64 KiB) and the buffer hold.
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<telemetry::SpanItem> spans;
    for (int i = 0; i < 100; ++i) spans.push_back(span(i + 1));
    forwarder.on_spans(telemetry::group_items(std::move(spans)));
  }
  const double written = metric(registry, "porthole_telemetry_jsonl_lines_total", {{"result", "written"}});
  const double dropped = metric(registry, "porthole_telemetry_jsonl_lines_total", {{"result", "dropped"}});
  EXPECT_GT(dropped, 0);
  EXPECT_GT(written, 0);
  EXPECT_LT(written + dropped, 2000) << "some lines wait in the buffer";
  char sink[65536];
  while (::read(fds[0], sink, sizeof sink) > 0) {
  }
  std::vector<telemetry::SpanItem> one{span(1)};
  forwarder.on_spans(telemetry::group_items(std::move(one)));
  EXPECT_EQ(metric(registry, "porthole_telemetry_jsonl_lines_total", {{"result", "written"}}) +
                metric(registry, "porthole_telemetry_jsonl_lines_total", {{"result", "dropped"}}),
            2001)
      << "once the reader reads, the next batch delivers what waited";
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(TelemetryForwarderTest, CountsWhatTheCollectorRejected) {
  prometheus::Registry registry;
  TelemetryForwarder forwarder(nullptr, telemetry::OtlpExporterConfig::Encoding::Protobuf, nullptr, registry);
  forwarder.on_collector_response(telemetry::OtlpSignal::Traces, 200,
                                  telemetry::encode_trace_response({3, "three were bad"}));
  forwarder.on_collector_response(telemetry::OtlpSignal::Traces, 200, "");
  EXPECT_EQ(metric(registry, "porthole_telemetry_collector_rejected_total", {{"signal", "spans"}}), 3);
}

}  // namespace
}  // namespace porthole::sidecar

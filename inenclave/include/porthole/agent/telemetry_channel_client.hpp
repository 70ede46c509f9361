// The agent's end of the telemetry channel (vsock 7001): dials the sidecar (forever, with
// backoff), says hello, and is the exporter behind both batch processors. An export encodes
// its items as one OTLP protobuf request (split over several frames when it would exceed
// max_frame_bytes) and completes when the sidecar acks every frame: success only if all were
// accepted. With no session up an export fails at once (the processor counts export_failed),
// so memory stays bounded by the processors' queues whatever the parent does.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/telemetry_config.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "porthole/relay/dialer.hpp"
#include "porthole/relay/frame_connection.hpp"
#include "porthole/telemetry/batch_processor.hpp"
#include "porthole/telemetry/telemetry_channel_metrics.hpp"

namespace porthole::agent {

class TelemetryChannelClient {
 public:
  TelemetryChannelClient(boost::asio::any_io_executor executor, TimeSource& time, const TelemetryChannelConfig& config,
                         relay::DialerOptions dialer, prometheus::Registry& registry, std::function<double()> uniform01);
  ~TelemetryChannelClient();

  void start();  // dials
  void stop();

  telemetry::SpanExporter& span_exporter() { return spans_; }
  telemetry::LogExporter& log_exporter() { return logs_; }
  // A session is up and the sidecar said hello with our version.
  bool ready() const { return connection_ && !connection_->closed() && greeted_; }

 private:
  template <class Item>
  class Exporter final : public telemetry::BatchExporter<Item> {
   public:
    explicit Exporter(TelemetryChannelClient& client) : client_(client) {}
    void export_batch(std::vector<Item>&& batch, typename telemetry::BatchExporter<Item>::Done done) override {
      client_.export_items(std::move(batch), std::move(done));
    }

   private:
    TelemetryChannelClient& client_;
  };

  // One export, possibly several frames: done once every frame has its ack (or the session died).
  struct Export {
    std::size_t waiting = 0;
    bool ok = true;
    std::size_t lost = 0;  // items dropped before sending (too large for a frame)
    std::function<void(telemetry::ExportResult)> done;
  };

  // One frame of an export: the batch payload (header, then the OTLP request) and what it holds.
  struct Part {
    std::string payload;
    std::size_t items = 0;
    std::size_t request_bytes = 0;  // the request before compression
    std::uint64_t seq = 0;
  };

  template <class Item>
  void export_items(std::vector<Item>&& items, std::function<void(telemetry::ExportResult)> done);
  // Encodes `items` into one or more parts that each fit a frame; returns how many items were
  // dropped because one alone does not fit.
  template <class Item>
  std::size_t encode_parts(std::span<const Item> items, std::vector<Part>& parts);
  void on_connected(relay::Stream stream);
  void on_frame(relay::Frame&& frame);
  void fail_pending();
  void settle(const std::shared_ptr<Export>& e, bool ok);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const TelemetryChannelConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  relay::FrameRejectCounters rejected_;
  telemetry::TelemetryChannelMetrics metrics_;
  relay::Dialer dialer_;
  std::shared_ptr<relay::FrameConnection> connection_;
  MonoTime connected_at_;
  bool greeted_ = false;
  std::uint64_t next_seq_ = 1;
  std::map<std::uint64_t, std::shared_ptr<Export>> pending_;  // by frame seq
  Exporter<telemetry::SpanItem> spans_{*this};
  Exporter<telemetry::LogItem> logs_{*this};
  bool stopped_ = false;
};

// The frame limits of the channel, for both ends.
relay::FrameLimits telemetry_frame_limits(std::size_t max_frame_bytes);

}  // namespace porthole::agent

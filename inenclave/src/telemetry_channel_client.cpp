#include "porthole/agent/telemetry_channel_client.hpp"

#include "porthole/common/logging.hpp"
#include "porthole/telemetry/otlp_proto.hpp"
#include "porthole/telemetry/telemetry_channel.hpp"

namespace porthole::agent {

using telemetry::ChannelSignal;
using telemetry::TelemetryChannelError;
using telemetry::TelemetryFrameType;

relay::FrameLimits telemetry_frame_limits(std::size_t max_frame_bytes) {
  return relay::FrameLimits::of(max_frame_bytes, {1, 2, 3, 4});
}

namespace {

constexpr std::size_t kMaxPendingFrames = 256;

void encode_request(std::span<const telemetry::SpanItem> items, std::string& out) {
  telemetry::encode_trace_request(items, out);
}
void encode_request(std::span<const telemetry::LogItem> items, std::string& out) {
  telemetry::encode_logs_request(items, out);
}
ChannelSignal signal_of(const telemetry::SpanItem*) { return ChannelSignal::Spans; }
ChannelSignal signal_of(const telemetry::LogItem*) { return ChannelSignal::Logs; }

}  // namespace

TelemetryChannelClient::TelemetryChannelClient(boost::asio::any_io_executor executor, TimeSource& time,
                                               const TelemetryChannelConfig& config, relay::DialerOptions dialer,
                                               prometheus::Registry& registry, std::function<double()> uniform01)
    : executor_(executor),
      time_(time),
      config_(config),
      log_(logger("telemetry")),
      rejected_(registry, "enclave", "telemetry"),
      metrics_(registry, "enclave"),
      dialer_(executor, time, std::move(dialer), registry, "enclave", std::move(uniform01), log_) {}

TelemetryChannelClient::~TelemetryChannelClient() { stop(); }

void TelemetryChannelClient::start() {
  dialer_.dial([this](relay::Stream s) { on_connected(std::move(s)); });
}

void TelemetryChannelClient::stop() {
  if (stopped_) return;
  stopped_ = true;
  dialer_.stop();
  if (auto c = std::move(connection_)) c->close(relay::CloseReason::Shutdown, "the agent is shutting down");
  fail_pending();
  metrics_.set_connected(false);
}

void TelemetryChannelClient::on_connected(relay::Stream stream) {
  // Acks are tiny, but the agent must never queue more than a few batch frames for a slow parent.
  connection_ = relay::FrameConnection::create(std::move(stream), telemetry_frame_limits(config_.max_frame_bytes),
                                               4 * (config_.max_frame_bytes + relay::kFrameHeaderBytes), rejected_,
                                               log_, "telemetry");
  connected_at_ = time_.now();
  greeted_ = false;
  std::weak_ptr<relay::FrameConnection> weak = connection_;
  connection_->start({[this](relay::Frame&& f) { on_frame(std::move(f)); },
                      [this, weak](relay::CloseReason reason, const std::string& detail) {
                        if (stopped_) return;
                        auto closing = weak.lock();
                        if (closing == connection_) connection_.reset();
                        greeted_ = false;
                        metrics_.set_connected(false);
                        fail_pending();
                        const bool lasted = time_.now() - connected_at_ >= std::chrono::seconds(5);
                        dialer_.redial([this](relay::Stream s) { on_connected(std::move(s)); },
                                       "telemetry channel closed (" + std::string(relay::to_string(reason)) + ": " +
                                           detail + ")",
                                       lasted);
                      }});
  connection_->send(static_cast<std::uint8_t>(TelemetryFrameType::Hello), telemetry::encode_channel_hello());
}

void TelemetryChannelClient::on_frame(relay::Frame&& frame) {
  switch (static_cast<TelemetryFrameType>(frame.type)) {
    case TelemetryFrameType::Hello: {
      auto version = telemetry::decode_channel_hello(frame.payload);
      if (!version) return connection_->reject(relay::FrameError::Malformed, "bad hello");
      if (*version != telemetry::kTelemetryChannelVersion) {
        metrics_.error(TelemetryChannelError::VersionMismatch);
        log_->error("telemetry: the sidecar speaks telemetry channel v{}, this agent v{}; run matching versions",
                    *version, telemetry::kTelemetryChannelVersion);
        return connection_->close(relay::CloseReason::VersionMismatch, "telemetry channel version mismatch");
      }
      greeted_ = true;
      metrics_.set_connected(true);
      log_->info("telemetry: connected to the sidecar");
      return;
    }
    case TelemetryFrameType::Ack: {
      auto ack = telemetry::decode_ack(frame.payload);
      if (!ack) return connection_->reject(relay::FrameError::Malformed, "bad ack");
      auto it = pending_.find(ack->seq);
      // An ack for nothing we sent: the parent is confused or lying; either way it changes nothing.
      if (it == pending_.end()) return;
      auto e = std::move(it->second);
      pending_.erase(it);
      if (ack->status == telemetry::AckStatus::Rejected) metrics_.error(TelemetryChannelError::Rejected);
      return settle(e, ack->status == telemetry::AckStatus::Accepted);
    }
    case TelemetryFrameType::Spans:
    case TelemetryFrameType::Logs:
      return connection_->reject(relay::FrameError::Malformed, "a batch sent to the agent");
  }
}

void TelemetryChannelClient::settle(const std::shared_ptr<Export>& e, bool ok) {
  e->ok = e->ok && ok;
  if (--e->waiting == 0 && e->done) {
    auto done = std::move(e->done);
    done(telemetry::ExportResult{e->ok, e->lost});
  }
}

void TelemetryChannelClient::fail_pending() {
  auto pending = std::move(pending_);
  pending_.clear();
  if (!pending.empty()) metrics_.error(TelemetryChannelError::ConnectionLost);
  for (auto& [_, e] : pending) settle(e, false);
}

template <class Item>
std::size_t TelemetryChannelClient::encode_parts(std::span<const Item> items, std::vector<Part>& parts) {
  // Encoding is cheaper than measuring first; halving keeps this O(n log n) even for a batch of
  // giants, and items stay in order. The payload is built in place: header room, then request.
  std::string payload(telemetry::kBatchHeaderBytes, '\0');
  encode_request(items, payload);
  const std::size_t request_bytes = payload.size() - telemetry::kBatchHeaderBytes;
  if (payload.size() <= config_.max_frame_bytes || config_.compression == telemetry::ChannelCompression::Gzip) {
    // gzip usually shrinks an over-size batch under the limit; the check after compression decides.
    parts.push_back(Part{std::move(payload), items.size(), request_bytes});
    return 0;
  }
  if (items.size() <= 1) {
    metrics_.error(TelemetryChannelError::Oversized);
    log_->warn("telemetry: dropped one item that alone encodes to {} bytes (telemetry.channel.max_frame_bytes {})",
               request_bytes, config_.max_frame_bytes);
    return items.size();
  }
  return encode_parts(items.first(items.size() / 2), parts) + encode_parts(items.subspan(items.size() / 2), parts);
}

template <class Item>
void TelemetryChannelClient::export_items(std::vector<Item>&& items, std::function<void(telemetry::ExportResult)> done) {
  const auto signal = signal_of(static_cast<const Item*>(nullptr));
  if (!ready()) {
    metrics_.error(TelemetryChannelError::NotConnected);
    return done(false);
  }
  // Exports that timed out in the processor still wait here for their ack; a parent that never
  // acks must not grow this map: past the bound the session is closed (and redialled).
  if (pending_.size() >= kMaxPendingFrames) {
    log_->warn("telemetry: {} batch frames unacked; closing the channel", pending_.size());
    connection_->close(relay::CloseReason::Backpressure, "the sidecar stopped acking batches");
    return done(false);
  }
  std::vector<Part> parts;
  std::size_t lost = encode_parts(std::span<const Item>(items), parts);
  std::erase_if(parts, [&](Part& part) {
    part.seq = next_seq_++;
    if (telemetry::seal_batch_payload(part.payload, part.seq, config_.compression) &&
        part.payload.size() <= config_.max_frame_bytes) {
      return false;
    }
    metrics_.error(TelemetryChannelError::Oversized);
    log_->warn("telemetry: dropped a batch of {} items that does not fit telemetry.channel.max_frame_bytes ({})",
               part.items, config_.max_frame_bytes);
    lost += part.items;
    return true;
  });
  if (parts.empty()) return done(false);
  auto e = std::make_shared<Export>();
  e->waiting = parts.size();
  // Items dropped for their size are lost like any other: the processor counts them export_failed,
  // not exported, and the rest of the batch as exported once acked.
  e->lost = lost;
  e->done = std::move(done);
  const auto type = signal == ChannelSignal::Spans ? TelemetryFrameType::Spans : TelemetryFrameType::Logs;
  // Every frame is pending before the first send: a send that closes the connection
  // (backpressure) fails them all through fail_pending(), and `done` runs once.
  for (const auto& part : parts) pending_[part.seq] = e;
  auto connection = connection_;
  for (std::size_t i = 0; i < parts.size() && !connection->closed(); ++i) {
    metrics_.batch(signal, parts[i].items, parts[i].payload.size(), parts[i].request_bytes);
    connection->send(static_cast<std::uint8_t>(type), parts[i].payload);
  }
}

template void TelemetryChannelClient::export_items(std::vector<telemetry::SpanItem>&&, std::function<void(telemetry::ExportResult)>);
template void TelemetryChannelClient::export_items(std::vector<telemetry::LogItem>&&, std::function<void(telemetry::ExportResult)>);

}  // namespace porthole::agent

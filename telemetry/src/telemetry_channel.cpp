#include "porthole/telemetry/telemetry_channel.hpp"

#include "porthole/telemetry/gzip.hpp"

namespace porthole::telemetry {

namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_u64(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

}  // namespace

std::string_view to_string(ChannelCompression c) { return c == ChannelCompression::Gzip ? "gzip" : "none"; }

std::string encode_channel_hello() {
  return std::string{static_cast<char>(kTelemetryChannelVersion >> 8), static_cast<char>(kTelemetryChannelVersion & 0xFF)};
}

std::optional<std::uint16_t> decode_channel_hello(std::string_view payload) {
  if (payload.size() != 2) return std::nullopt;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]));
}

std::optional<std::string> encode_batch_payload(std::uint64_t seq, ChannelCompression compression,
                                                std::string_view request) {
  std::string out;
  out.reserve(kBatchHeaderBytes + request.size());
  out.resize(kBatchHeaderBytes);
  out.append(request);
  if (!seal_batch_payload(out, seq, compression)) return std::nullopt;
  return out;
}

bool seal_batch_payload(std::string& payload, std::uint64_t seq, ChannelCompression compression) {
  std::uint8_t flags = 0;
  if (compression == ChannelCompression::Gzip) {
    auto compressed = gzip_compress(std::string_view(payload).substr(kBatchHeaderBytes));
    if (!compressed) return false;
    payload.resize(kBatchHeaderBytes);
    payload.append(*compressed);
    flags = kBatchFlagGzip;
  }
  std::string header;
  put_u64(header, seq);
  header.push_back(static_cast<char>(flags));
  payload.replace(0, kBatchHeaderBytes, header);
  return true;
}

std::optional<BatchPayload> decode_batch_payload(std::string_view payload) {
  if (payload.size() < kBatchHeaderBytes) return std::nullopt;
  BatchPayload b;
  b.seq = get_u64(payload);
  b.flags = static_cast<std::uint8_t>(payload[8]);
  if ((b.flags & ~kBatchFlagGzip) != 0) return std::nullopt;
  b.body = payload.substr(kBatchHeaderBytes);
  return b;
}

std::optional<std::string> batch_request_bytes(const BatchPayload& batch, std::size_t max_bytes, std::string& error) {
  if (!(batch.flags & kBatchFlagGzip)) {
    if (batch.body.size() > max_bytes) {
      error = "request of " + std::to_string(batch.body.size()) + " bytes exceeds " + std::to_string(max_bytes);
      return std::nullopt;
    }
    return std::string(batch.body);
  }
  auto plain = gzip_decompress(batch.body, max_bytes);
  if (!plain) error = "corrupt gzip member, or it inflates beyond " + std::to_string(max_bytes) + " bytes";
  return plain;
}

std::string encode_ack(std::uint64_t seq, AckStatus status) {
  std::string out;
  put_u64(out, seq);
  out.push_back(static_cast<char>(status));
  return out;
}

std::optional<Ack> decode_ack(std::string_view payload) {
  if (payload.size() != 9) return std::nullopt;
  const auto status = static_cast<unsigned char>(payload[8]);
  if (status > 1) return std::nullopt;
  return Ack{get_u64(payload), static_cast<AckStatus>(status)};
}

}  // namespace porthole::telemetry

// libFuzzer target: the frame decoder fed in arbitrary chunks, and every decoded payload run
// through the control-message decoders. Nothing may crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "porthole/relay/control_protocol.hpp"
#include "porthole/relay/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole::relay;
  if (size == 0) return 0;
  // The first byte picks a chunk size, so splits across reads are explored too.
  const std::size_t chunk = 1 + data[0] % 64;
  FrameDecoder decoder(control_frame_limits(64 * 1024));
  for (std::size_t pos = 1; pos < size; pos += chunk) {
    decoder.feed(data + pos, std::min(chunk, size - pos));
    while (auto frame = decoder.next()) {
      std::string why;
      switch (static_cast<ControlType>(frame->type)) {
        case ControlType::Hello: (void)decode_hello(frame->payload, &why); break;
        case ControlType::Heartbeat:
        case ControlType::MetricsRequest: (void)decode_u64(frame->payload, &why); break;
        case ControlType::MetricsResponse: (void)decode_metrics_response(frame->payload, &why); break;
        case ControlType::Error: (void)decode_error(frame->payload, &why); break;
      }
    }
    if (decoder.error()) break;
    if (decoder.buffered() > 64 * 1024 + kFrameHeaderBytes + 64) __builtin_trap();
  }
  decoder.finish();
  return 0;
}

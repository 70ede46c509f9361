// libFuzzer target for the OTLP decoders (protobuf requests and responses, and OTLP/JSON). The
// first byte picks the decoder: 0 traces, 1 logs, 2 trace response, 3 logs response, 4 JSON
// traces, 5 JSON logs. Whatever decodes must re-encode to bytes that decode to the same thing:
// encode(decode(encode(x))) == encode(x) (compared as bytes, so NaN doubles compare equal).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "porthole/telemetry/otlp_json.hpp"
#include "porthole/telemetry/otlp_proto.hpp"

#include "otlp_fuzz_limits.hpp"

namespace {

using namespace porthole::telemetry;

template <class Batch, class Decode, class Encode>
void round_trip(std::string_view input, Decode decode, Encode encode) {
  Batch first;
  std::string error;
  if (!decode(input, first, error, otlp_fuzz_limits())) {
    if (error.empty()) std::abort();  // a failure must say why
    return;
  }
  const std::string wire = encode(first);
  Batch second;
  if (!decode(wire, second, error, OtlpDecodeLimits{})) std::abort();
  if (encode(second) != wire) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string error;
  switch (data[0] % 6) {
    case 0:
      round_trip<TraceBatch>(input, [](auto in, auto& out, auto& err, auto limits) {
        return decode_trace_request(in, out, err, limits);
      }, [](const TraceBatch& b) { return encode_trace_request(b); });
      break;
    case 1:
      round_trip<LogBatch>(input, [](auto in, auto& out, auto& err, auto limits) {
        return decode_logs_request(in, out, err, limits);
      }, [](const LogBatch& b) { return encode_logs_request(b); });
      break;
    case 2:
    case 3: {
      OtlpPartialSuccess p, again;
      const bool traces = data[0] % 6 == 2;
      if (!(traces ? decode_trace_response(input, p, error) : decode_logs_response(input, p, error))) break;
      const std::string wire = traces ? encode_trace_response(p) : encode_logs_response(p);
      if (!(traces ? decode_trace_response(wire, again, error) : decode_logs_response(wire, again, error)) ||
          !(again == p)) {
        std::abort();
      }
      break;
    }
    case 4:
      // JSON in, protobuf out: the two decoders must agree on the model.
      round_trip<TraceBatch>(input, [](auto in, auto& out, auto& err, auto limits) {
        // The re-decode step gets protobuf bytes, the first step JSON.
        if (!in.empty() && (in.front() == '{' || in.front() == ' ' || in.front() == '[')) {
          return decode_trace_request_json(in, out, err, limits);
        }
        return decode_trace_request(in, out, err, limits);
      }, [](const TraceBatch& b) { return encode_trace_request(b); });
      break;
    case 5: {
      LogBatch batch;
      if (!decode_logs_request_json(input, batch, error, otlp_fuzz_limits())) break;
      LogBatch again;
      // JSON round trip through our encoder, compared on the protobuf encoding.
      if (!decode_logs_request_json(encode_logs_request_json(batch), again, error)) std::abort();
      if (encode_logs_request(again) != encode_logs_request(batch)) std::abort();
      break;
    }
  }
  return 0;
}

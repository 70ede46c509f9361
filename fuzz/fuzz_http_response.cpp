// libFuzzer target: porthole-loadtest's HTTP/1.x response parser, which reads what a server under
// test sends (untrusted). The input is fed in chunks whose size the first byte picks, as a socket
// would deliver it, for one response after another on a keep-alive connection; the parser must
// never read or consume beyond what it is given, never loop without progress, and agree with
// itself when the same bytes come in one piece.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "response_parser.hpp"

namespace {

using porthole::loadtest::ResponseParser;

struct Outcome {
  int responses = 0;
  std::size_t consumed = 0;
  bool error = false;
};

// Parses responses from `input` offered `chunk` bytes more at a time (a head is offered again
// with more bytes after it until it is complete, as the load generator does).
Outcome parse(std::string_view input, std::size_t chunk, bool head_request) {
  Outcome out;
  ResponseParser parser;
  parser.reset(head_request);
  std::size_t available = 0;
  while (out.consumed < input.size()) {
    available = std::min(input.size(), std::max(available, out.consumed) + chunk);
    const std::string_view data = input.substr(out.consumed, available - out.consumed);
    std::size_t used = 0;
    const auto result = parser.feed(data, used);
    if (used > data.size()) __builtin_trap();
    out.consumed += used;
    if (result == ResponseParser::Result::Error) {
      out.error = true;
      return out;
    }
    if (result == ResponseParser::Result::Done) {
      ++out.responses;
      // A final response: 2xx-9xx, or 101 Switching Protocols (other 1xx are interim, skipped).
      const unsigned status = parser.status();
      if (status > 999 || (status < 200 && status != 101)) __builtin_trap();
      if (!parser.keep_alive()) return out;
      parser.reset(head_request);
      continue;
    }
    if (used == 0 && available == input.size()) break;  // needs bytes that will never come
  }
  if (parser.feed_eof() == ResponseParser::Result::Done) ++out.responses;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const bool head_request = data[1] & 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto pieces = parse(input, chunk, head_request);
  const auto whole = parse(input, input.size() + 1, head_request);
  if (pieces.responses != whole.responses || pieces.consumed != whole.consumed || pieces.error != whole.error) {
    __builtin_trap();
  }
  return 0;
}

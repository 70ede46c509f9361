// Reads a protocol header at the start of a stream (a PROXY v2 header, an egress request or
// reply, an HTTP CONNECT head) with a deadline and a size bound: a peer that sends nothing, or
// dribbles bytes forever (slowloris), is cut off at the deadline. Bytes read past the header
// are handed back, to be relayed first.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "porthole/common/time.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::relay {

enum class HeaderStatus { Ok, Invalid, Timeout, Closed, TooLong };

struct HeaderResult {
  HeaderStatus status = HeaderStatus::Closed;
  std::size_t consumed = 0;  // header bytes, when Ok
  std::string bytes;         // everything read; bytes.substr(consumed) is payload
  std::string error;         // the parser's token when Invalid, or the socket error
};

// The parser sees everything read so far and answers: 0 = need more, > 0 = the header is that
// many bytes, < 0 = invalid (and sets `error`).
using HeaderParser = std::function<long(std::string_view bytes, std::string& error)>;

// `stream` must stay alive until `done` runs (keep it in the state `done` captures).
void read_header(Stream& stream, TimeSource& time, Duration timeout, std::size_t max_bytes, HeaderParser parse,
                 std::function<void(HeaderResult)> done);

}  // namespace porthole::relay

#include "request_stamp.hpp"

#include <algorithm>
#include <cstring>

#include "splitmix64.hpp"

namespace porthole::loadtest {

namespace {

constexpr std::size_t kCopyWhole = 16 * 1024;  // requests up to this go out as one buffer

// "00".."ff" for every byte: two digits per lookup.
struct HexPairs {
  char pairs[256][2];
  constexpr HexPairs() : pairs() {
    constexpr char digits[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      pairs[i][0] = digits[i >> 4];
      pairs[i][1] = digits[i & 0xf];
    }
  }
};
constexpr HexPairs kHex;

// `bytes` bytes of v, most significant first, as 2*bytes hex digits.
void hex(std::uint64_t v, char* out, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    std::memcpy(out + 2 * i, kHex.pairs[v & 0xff], 2);
    v >>= 8;
  }
}


// The parts of a traceparent that change per request: the request number (8 digits at 27) and
// the client's span id (16 at 36: non-zero, unique per request).
void render_request_part(std::uint64_t run_id, std::uint32_t connection, std::uint64_t index, char* out) {
  hex(index & 0xffffffffu, out + 27, 4);
  std::uint64_t span = splitmix64(run_id ^ splitmix64((std::uint64_t{connection} << 32) ^ index));
  if (span == 0) span = 1;
  hex(span, out + 36, 8);
}

void render_traceparent(std::uint64_t run_id, std::uint32_t connection, std::uint64_t index, char* out) {
  std::memcpy(out, "00-", 3);
  hex(run_id, out + 3, 8);
  hex(connection, out + 19, 4);
  out[35] = '-';
  std::memcpy(out + 52, "-01", 3);
  render_request_part(run_id, connection, index, out);
}

}  // namespace

std::string run_id_hex(std::uint64_t run_id) {
  char out[16];
  hex(run_id, out, 8);
  return std::string(out, 16);
}

std::string trace_id_hex(std::uint64_t run_id, std::uint32_t connection, std::uint64_t index) {
  char out[kTraceparentLength];
  render_traceparent(run_id, connection, index, out);
  return std::string(out + 3, 32);
}

std::string traceparent_value(std::uint64_t run_id, std::uint32_t connection, std::uint64_t index) {
  char out[kTraceparentLength];
  render_traceparent(run_id, connection, index, out);
  return std::string(out, kTraceparentLength);
}

std::string traceparent_placeholder() { return "00-" + std::string(32, '0') + "-" + std::string(16, '0') + "-01"; }

RequestStamper::RequestStamper(std::uint64_t run_id, std::uint32_t connection, std::uint32_t connections)
    : run_id_(run_id), connection_(connection), connections_(connections == 0 ? 1 : connections) {}

const RequestStamper::Buffers& RequestStamper::buffers(const PreparedRequest& r, std::uint64_t index) {
  namespace asio = boost::asio;
  if (copied_ != &r) {
    // A new template for this connection: copy what will be patched (the whole request when it
    // is small) and write the parts of the traceparent that never change on this connection.
    std::size_t end = r.wire.size() <= kCopyWhole ? r.wire.size() : 0;
    if (r.traceparent_at != PreparedRequest::kNone) end = std::max(end, r.traceparent_at + kTraceparentLength);
    if (r.counter_at != PreparedRequest::kNone) end = std::max(end, r.counter_at + r.counter_width);
    copy_.assign(r.wire, 0, end);
    if (r.traceparent_at != PreparedRequest::kNone) render_traceparent(run_id_, connection_, 0, copy_.data() + r.traceparent_at);
    copied_ = &r;
    buffers_[0] = asio::buffer(copy_);
    buffers_[1] = asio::buffer(r.wire.data() + end, r.wire.size() - end);
  }
  if (r.traceparent_at != PreparedRequest::kNone) {
    render_request_part(run_id_, connection_, index, copy_.data() + r.traceparent_at);
  }
  if (r.counter_at != PreparedRequest::kNone) {
    // Unique over the run: request i of connection c of N is number i*N + c. The last
    // counter_width digits (a document narrower than 20 characters repeats sooner).
    std::uint64_t number = index * connections_ + connection_;
    char* digits = copy_.data() + r.counter_at;
    for (std::size_t i = r.counter_width; i-- > 0;) {
      digits[i] = static_cast<char>('0' + number % 10);
      number /= 10;
    }
  }
  return buffers_;
}

}  // namespace porthole::loadtest

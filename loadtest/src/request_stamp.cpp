#include "request_stamp.hpp"

#include <cstring>

namespace porthole::loadtest {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void hex(std::uint64_t v, char* out, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void render_traceparent(std::uint64_t run_id, std::uint32_t connection, std::uint64_t index, char* out) {
  std::memcpy(out, "00-", 3);
  hex(run_id, out + 3, 16);
  hex(connection, out + 19, 8);
  hex(index & 0xffffffffu, out + 27, 8);
  out[35] = '-';
  // The client's span id (the parent of the agent's server span): non-zero, unique per request.
  std::uint64_t span = mix(run_id ^ mix((std::uint64_t{connection} << 32) ^ index));
  if (span == 0) span = 1;
  hex(span, out + 36, 16);
  std::memcpy(out + 52, "-01", 3);
}

}  // namespace

std::string run_id_hex(std::uint64_t run_id) {
  char out[16];
  hex(run_id, out, 16);
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
  std::size_t n = 0, at = 0;
  buffers_.fill(asio::const_buffer());
  if (r.traceparent_at != PreparedRequest::kNone) {
    render_traceparent(run_id_, connection_, index, traceparent_);
    buffers_[n++] = asio::buffer(r.wire.data() + at, r.traceparent_at - at);
    buffers_[n++] = asio::buffer(traceparent_, kTraceparentLength);
    at = r.traceparent_at + kTraceparentLength;
  }
  if (r.counter_at != PreparedRequest::kNone) {
    // Unique over the run: request i of connection c of N is number i*N + c. The last
    // counter_width digits (a document narrower than 20 characters repeats sooner).
    std::uint64_t number = index * connections_ + connection_;
    for (std::size_t i = r.counter_width; i-- > 0;) {
      counter_[i] = static_cast<char>('0' + number % 10);
      number /= 10;
    }
    buffers_[n++] = asio::buffer(r.wire.data() + at, r.counter_at - at);
    buffers_[n++] = asio::buffer(counter_, r.counter_width);
    at = r.counter_at + r.counter_width;
  }
  buffers_[n] = asio::buffer(r.wire.data() + at, r.wire.size() - at);
  return buffers_;
}

}  // namespace porthole::loadtest

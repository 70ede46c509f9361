#include "porthole/relay/control_protocol.hpp"

#include <algorithm>

namespace porthole::relay {
namespace {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { be(v, 2); }
  void u32(std::uint32_t v) { be(v, 4); }
  void u64(std::uint64_t v) { be(v, 8); }
  void short_string(std::string_view s) {
    const auto n = std::min<std::size_t>(s.size(), 255);
    u8(static_cast<std::uint8_t>(n));
    out_.append(s.substr(0, n));
  }
  void rest(std::string_view s) { out_.append(s); }
  std::string take() { return std::move(out_); }

 private:
  void be(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t& v) { return be(v, 1); }
  bool u16(std::uint16_t& v) { return be(v, 2); }
  bool u32(std::uint32_t& v) { return be(v, 4); }
  bool u64(std::uint64_t& v) { return be(v, 8); }
  bool short_string(std::string& s) {
    std::uint8_t n = 0;
    if (!u8(n) || in_.size() - pos_ < n) return false;
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  std::string_view rest() {
    auto r = in_.substr(pos_);
    pos_ = in_.size();
    return r;
  }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  template <typename T>
  bool be(T& v, std::size_t bytes) {
    if (in_.size() - pos_ < bytes) return false;
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < bytes; ++i) acc = (acc << 8) | static_cast<unsigned char>(in_[pos_ + i]);
    pos_ += bytes;
    v = static_cast<T>(acc);
    return true;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
};

template <typename T>
std::optional<T> malformed(std::string* why, const char* what) {
  if (why) *why = what;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(ControlType t) {
  switch (t) {
    case ControlType::Hello: return "hello";
    case ControlType::Heartbeat: return "heartbeat";
    case ControlType::MetricsRequest: return "metrics_request";
    case ControlType::MetricsResponse: return "metrics_response";
    case ControlType::Error: return "error";
  }
  return "unknown";
}

std::string_view to_string(Role r) { return r == Role::Agent ? "agent" : r == Role::Sidecar ? "sidecar" : "unknown"; }

FrameLimits control_frame_limits(std::size_t max_payload) {
  FrameLimits l;
  l.max_payload = max_payload;
  for (auto t : kAllControlTypes) l.known_types.set(static_cast<std::uint8_t>(t));
  return l;
}

bool valid_peer_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::string encode_hello(const Hello& h) {
  Writer w;
  w.u16(h.version);
  w.u8(static_cast<std::uint8_t>(h.role));
  w.u32(h.capabilities);
  w.short_string(h.name);
  w.short_string(h.software_version);
  return w.take();
}

std::optional<Hello> decode_hello(std::string_view payload, std::string* why) {
  Reader r(payload);
  Hello h;
  if (!r.u16(h.version)) return malformed<Hello>(why, "hello shorter than its version field");
  if (h.version != kControlProtocolVersion) return h;
  std::uint8_t role = 0;
  if (!r.u8(role) || !r.u32(h.capabilities) || !r.short_string(h.name) || !r.short_string(h.software_version)) {
    return malformed<Hello>(why, "hello truncated");
  }
  if (!r.at_end()) return malformed<Hello>(why, "trailing bytes after hello");
  if (role != static_cast<std::uint8_t>(Role::Agent) && role != static_cast<std::uint8_t>(Role::Sidecar)) {
    return malformed<Hello>(why, "hello has an unknown role");
  }
  h.role = static_cast<Role>(role);
  if (!valid_peer_name(h.name)) return malformed<Hello>(why, "hello name must be 1..64 bytes of [A-Za-z0-9._-]");
  return h;
}

std::string encode_u64(std::uint64_t v) {
  Writer w;
  w.u64(v);
  return w.take();
}

std::optional<std::uint64_t> decode_u64(std::string_view payload, std::string* why) {
  Reader r(payload);
  std::uint64_t v = 0;
  if (!r.u64(v) || !r.at_end()) return malformed<std::uint64_t>(why, "expected exactly 8 bytes");
  return v;
}

std::string encode_metrics_response(const MetricsResponse& m) {
  Writer w;
  w.u64(m.id);
  w.u8(0);
  w.rest(m.text);
  return w.take();
}

std::optional<MetricsResponse> decode_metrics_response(std::string_view payload, std::string* why) {
  Reader r(payload);
  MetricsResponse m;
  std::uint8_t format = 0;
  if (!r.u64(m.id) || !r.u8(format)) return malformed<MetricsResponse>(why, "metrics response truncated");
  if (format != 0) return malformed<MetricsResponse>(why, "metrics response in an unknown format");
  m.text = std::string(r.rest());
  return m;
}

std::string encode_error(const ErrorMessage& e) {
  Writer w;
  w.u16(static_cast<std::uint16_t>(e.code));
  w.rest(std::string_view(e.message).substr(0, 1024));
  return w.take();
}

std::optional<ErrorMessage> decode_error(std::string_view payload, std::string* why) {
  Reader r(payload);
  std::uint16_t code = 0;
  if (!r.u16(code)) return malformed<ErrorMessage>(why, "error frame truncated");
  ErrorMessage e;
  e.code = static_cast<ErrorCode>(code);
  e.message = std::string(r.rest().substr(0, 1024));
  // Only printable ASCII reaches our logs from a peer.
  for (auto& c : e.message) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return e;
}

}  // namespace porthole::relay

#include "scenario.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "request_stamp.hpp"

namespace porthole::loadtest {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxBody = 64 << 20;

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError(what + ": cannot read '" + path + "'");
  std::ostringstream out;
  out << in.rdbuf();
  if (out.str().size() > kMaxBody) throw ScenarioError(what + ": '" + path + "' is larger than 64 MiB");
  return out.str();
}

const json::value* field(const json::object& o, const char* name) { return o.if_contains(name); }

std::string string_field(const json::object& o, const char* name, const std::string& where, std::string fallback) {
  const auto* v = field(o, name);
  if (!v) return fallback;
  if (!v->is_string()) throw ScenarioError(where + "." + name + ": must be a string");
  return std::string(v->as_string());
}

std::uint64_t number_field(const json::object& o, const char* name, const std::string& where, std::uint64_t fallback,
                           std::uint64_t lo, std::uint64_t hi) {
  const auto* v = field(o, name);
  if (!v) return fallback;
  std::uint64_t n = 0;
  if (v->is_uint64()) {
    n = v->as_uint64();
  } else if (v->is_int64() && v->as_int64() >= 0) {
    n = static_cast<std::uint64_t>(v->as_int64());
  } else {
    throw ScenarioError(where + "." + name + ": must be a whole number " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  if (n < lo || n > hi) {
    throw ScenarioError(where + "." + name + ": " + std::to_string(n) + " is outside " + std::to_string(lo) + ".." +
                        std::to_string(hi));
  }
  return n;
}

bool valid_token(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool valid_header_value(const std::string& s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == 0) return false;
  }
  return true;
}

RequestTemplate parse_request(const json::value& v, const std::string& where, WireProtocol protocol,
                              const std::string& base_dir) {
  if (!v.is_object()) throw ScenarioError(where + ": must be an object");
  const auto& o = v.as_object();
  static const char* kKnown[] = {"name", "method", "path", "headers", "body", "body_file", "weight",
                                 "response_bytes", "response_until"};
  for (const auto& kv : o) {
    bool known = false;
    for (const char* k : kKnown) known = known || kv.key() == k;
    if (!known) throw ScenarioError(where + ": unknown field '" + std::string(kv.key()) + "'");
  }
  RequestTemplate r;
  r.name = string_field(o, "name", where, where);
  r.method = string_field(o, "method", where, "GET");
  r.path = string_field(o, "path", where, "/");
  r.weight = static_cast<unsigned>(number_field(o, "weight", where, 1, 1, 1000000));
  if (field(o, "body") && field(o, "body_file")) throw ScenarioError(where + ": give body or body_file, not both");
  r.body = string_field(o, "body", where, "");
  if (const auto file = string_field(o, "body_file", where, ""); !file.empty()) {
    const auto p = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file)
                                                             : std::filesystem::path(base_dir) / file;
    r.body = read_file(p.string(), where + ".body_file");
  }
  if (protocol == WireProtocol::Http) {
    if (!valid_token(r.method)) throw ScenarioError(where + ".method: '" + r.method + "' is not an HTTP method token");
    if (r.path.empty() || r.path[0] != '/' || !valid_header_value(r.path) || r.path.find(' ') != std::string::npos) {
      throw ScenarioError(where + ".path: '" + r.path + "' must start with / and contain no spaces or line breaks");
    }
    if (const auto* h = field(o, "headers")) {
      if (!h->is_object()) throw ScenarioError(where + ".headers: must be an object of strings");
      for (const auto& kv : h->as_object()) {
        const std::string name(kv.key());
        if (!valid_token(name)) throw ScenarioError(where + ".headers: '" + name + "' is not a header name");
        if (!kv.value().is_string() || !valid_header_value(std::string(kv.value().as_string()))) {
          throw ScenarioError(where + ".headers." + name + ": must be a string without line breaks");
        }
        const std::string lower = lowercase(name);
        if (lower == "content-length" || lower == "transfer-encoding") {
          throw ScenarioError(where + ".headers." + name + ": set from the body by porthole-loadtest; remove it");
        }
        for (const auto& [seen, value] : r.headers) {
          if (lowercase(seen) == lower) throw ScenarioError(where + ".headers." + name + ": given twice");
        }
        r.headers.emplace_back(name, std::string(kv.value().as_string()));
      }
    }
    if (field(o, "response_bytes") || field(o, "response_until")) {
      throw ScenarioError(where + ": response_bytes/response_until are for \"protocol\": \"tcp\"");
    }
  } else {
    if (field(o, "headers")) throw ScenarioError(where + ".headers: not for \"protocol\": \"tcp\"");
    if (r.body.empty()) throw ScenarioError(where + ".body: a tcp request needs a non-empty body");
    r.response_bytes = number_field(o, "response_bytes", where, 0, 1, kMaxBody);
    r.response_until = string_field(o, "response_until", where, "");
    if ((r.response_bytes == 0) == r.response_until.empty()) {
      throw ScenarioError(where + ": a tcp request needs exactly one of response_bytes and response_until");
    }
  }
  return r;
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& base_dir) {
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec) throw ScenarioError("scenario: invalid JSON: " + ec.message());
  if (!doc.is_object()) throw ScenarioError("scenario: the top level must be an object");
  const auto& o = doc.as_object();
  for (const auto& kv : o) {
    if (kv.key() != "name" && kv.key() != "protocol" && kv.key() != "requests") {
      throw ScenarioError("scenario: unknown field '" + std::string(kv.key()) + "' (want name, protocol, requests)");
    }
  }
  Scenario s;
  s.name = string_field(o, "name", "scenario", "file");
  const auto protocol = string_field(o, "protocol", "scenario", "http");
  if (protocol == "http") {
    s.protocol = WireProtocol::Http;
  } else if (protocol == "tcp") {
    s.protocol = WireProtocol::Tcp;
  } else {
    throw ScenarioError("scenario.protocol: '" + protocol + "' must be http or tcp");
  }
  const auto* requests = field(o, "requests");
  if (!requests || !requests->is_array() || requests->as_array().empty()) {
    throw ScenarioError("scenario.requests: must be a non-empty array");
  }
  if (requests->as_array().size() > 10000) throw ScenarioError("scenario.requests: at most 10000 templates");
  std::size_t i = 0;
  for (const auto& r : requests->as_array()) {
    s.requests.push_back(parse_request(r, "requests[" + std::to_string(i++) + "]", s.protocol, base_dir));
  }
  return s;
}

Scenario load_scenario_file(const std::string& path) {
  const auto dir = std::filesystem::path(path).parent_path();
  try {
    return parse_scenario(read_file(path, "scenario"), dir.empty() ? "." : dir.string());
  } catch (const ScenarioError& e) {
    throw ScenarioError(path + ": " + e.what());
  }
}

bool is_builtin_scenario(const std::string& name) {
  return name == "get" || name == "echo" || name == "field-encryption";
}

std::string field_encryption_document(unsigned fields, std::size_t field_size, std::size_t* counter_offset) {
  std::string out = "{\"id\":1,\"fields\":{";
  for (unsigned i = 0; i < fields; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "f%02u", i);
    if (i) out += ',';
    out += '"';
    out += key;
    out += "\":\"";
    if (i == 0 && counter_offset) *counter_offset = out.size();
    for (std::size_t j = 0; j < field_size; ++j) out += static_cast<char>('a' + (i + j) % 26);
    out += '"';
  }
  return out + "}}";
}

Scenario builtin_scenario(const std::string& name, WireProtocol protocol, const BuiltinOptions& options) {
  Scenario s;
  s.name = name;
  s.protocol = protocol;
  RequestTemplate r;
  r.name = name;
  if (protocol == WireProtocol::Tcp) {
    if (name != "echo") throw ScenarioError("scenario '" + name + "': only 'echo' works over tcp://");
    r.body.assign(options.body_size, 'x');
    r.response_bytes = options.body_size;
  } else if (name == "get") {
    r.path = options.path;
  } else if (name == "echo") {
    r.method = "POST";
    r.path = "/echo";
    r.body.assign(options.body_size, 'x');
    r.headers.emplace_back("content-type", "application/octet-stream");
  } else if (name == "field-encryption") {
    r.method = "POST";
    r.path = "/encrypt";
    std::string query;
    if (!options.cipher.empty()) query += "cipher=" + options.cipher;
    if (!options.curve.empty()) query += (query.empty() ? "" : "&") + std::string("curve=") + options.curve;
    if (!query.empty()) r.path += "?" + query;
    r.body = field_encryption_document(options.fields, options.field_size, &r.counter_offset);
    r.counter_width = std::min<std::size_t>(options.field_size, 20);
    r.headers.emplace_back("content-type", "application/json");
  } else {
    throw ScenarioError("unknown scenario '" + name + "': use get, echo, field-encryption or a JSON file");
  }
  s.requests.push_back(std::move(r));
  return s;
}

std::vector<PreparedRequest> prepare_requests(const Scenario& scenario, const std::string& host_header,
                                              bool traceparent) {
  std::vector<PreparedRequest> out;
  for (std::size_t i = 0; i < scenario.requests.size(); ++i) {
    const auto& t = scenario.requests[i];
    PreparedRequest p;
    p.template_index = i;
    if (scenario.protocol == WireProtocol::Tcp) {
      p.wire = t.body;
      p.response_bytes = t.response_bytes;
      p.response_until = t.response_until;
      out.push_back(std::move(p));
      continue;
    }
    p.head = t.method == "HEAD";
    p.wire = t.method + " " + t.path + " HTTP/1.1\r\n";
    bool has_host = false, has_type = false, has_agent = false, has_traceparent = false;
    for (const auto& [k, v] : t.headers) {
      const std::string lower = lowercase(k);
      has_host = has_host || lower == "host";
      has_type = has_type || lower == "content-type";
      has_agent = has_agent || lower == "user-agent";
      has_traceparent = has_traceparent || lower == "traceparent";
    }
    if (!has_host) p.wire += "Host: " + host_header + "\r\n";
    if (!has_agent) p.wire += "User-Agent: porthole-loadtest\r\n";
    if (traceparent && !has_traceparent) {
      p.wire += "traceparent: ";
      p.traceparent_at = p.wire.size();
      p.wire += traceparent_placeholder() + "\r\n";
    }
    for (const auto& [k, v] : t.headers) p.wire += k + ": " + v + "\r\n";
    if (!t.body.empty() || t.method == "POST" || t.method == "PUT") {
      if (!has_type && !t.body.empty()) p.wire += "Content-Type: application/octet-stream\r\n";
      p.wire += "Content-Length: " + std::to_string(t.body.size()) + "\r\n";
    }
    p.wire += "\r\n";
    if (t.counter_width != 0 && t.counter_offset + t.counter_width <= t.body.size()) {
      p.counter_at = p.wire.size() + t.counter_offset;
      p.counter_width = t.counter_width;
    }
    p.wire += t.body;
    out.push_back(std::move(p));
  }
  return out;
}

WeightedPicker::WeightedPicker(const std::vector<unsigned>& weights) {
  for (unsigned w : weights) {
    weights_.push_back(w);
    total_ += w;
  }
  current_.assign(weights_.size(), 0);
}

std::size_t WeightedPicker::next() {
  if (weights_.size() == 1) return 0;
  std::size_t best = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    current_[i] += weights_[i];
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= total_;
  return best;
}

}  // namespace porthole::loadtest

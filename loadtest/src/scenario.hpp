// What a run sends: request templates with weights, from a JSON scenario file or built in
// (`get`, `echo`, `field-encryption`). A template is one request — method, path, headers, body —
// serialised once per run into a PreparedRequest and sent as it is every time it is picked; the
// only bytes that change per request are a W3C traceparent (HTTP, unless turned off or the
// template sets its own) and, for field-encryption, a request number in the first field.
// Scenario files have no placeholders or variables.
//
// Scenario file (JSON):
//   {"name": "mix", "protocol": "http",            // or "tcp"
//    "requests": [
//      {"name": "health", "method": "GET", "path": "/health", "weight": 1},
//      {"name": "post", "method": "POST", "path": "/echo", "weight": 3,
//       "headers": {"content-type": "application/json"}, "body": "{\"a\":1}"},
//      {"name": "big", "method": "POST", "path": "/echo", "body_file": "body.bin"}]}
//   raw TCP: {"protocol": "tcp", "requests": [{"body": "PING\n", "response_until": "\n"},
//                                             {"body": "abcd", "response_bytes": 4}]}
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "exchange.hpp"
#include "socket_exchange.hpp"

namespace porthole::loadtest {

struct RequestTemplate {
  std::string name;
  std::string method = "GET";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  unsigned weight = 1;
  std::size_t response_bytes = 0;  // tcp
  std::string response_until;      // tcp
  // Digits of the body overwritten with the request number per request (field-encryption).
  std::size_t counter_offset = 0;
  std::size_t counter_width = 0;
};

struct Scenario {
  std::string name;
  WireProtocol protocol = WireProtocol::Http;
  std::vector<RequestTemplate> requests;
};

class ScenarioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a scenario document; `base_dir` resolves body_file. Throws ScenarioError naming the
// field ("requests[2].weight: must be a number 1..1000000").
Scenario parse_scenario(const std::string& json_text, const std::string& base_dir = ".");
Scenario load_scenario_file(const std::string& path);

struct BuiltinOptions {
  std::string path = "/";    // of the URL, for the default GET scenario
  std::size_t body_size = 64;  // echo: bytes per request body
  unsigned fields = 16;        // field-encryption: fields per document
  std::size_t field_size = 32; // field-encryption: characters per field value
  std::string cipher;          // field-encryption: ?cipher= (empty: the workload's default)
  std::string curve;           // field-encryption: ?curve= (empty: the workload's default)
};

// "get" (GET of the URL's path), "echo", "field-encryption"; nullopt-like throw if unknown.
bool is_builtin_scenario(const std::string& name);
Scenario builtin_scenario(const std::string& name, WireProtocol protocol, const BuiltinOptions& options);

// The field-encryption document: {"id": 1, "fields": {"f00": "....", ...}} with `fields` values.
// `counter_offset` is set to where f00's value starts (the request number goes there).
std::string field_encryption_document(unsigned fields, std::size_t field_size, std::size_t* counter_offset = nullptr);

// Serialises every template (HTTP/1.1 with Host, User-Agent, Content-Length, keep-alive; a
// template's own Host, User-Agent or Content-Type replaces ours). With `traceparent`, each HTTP
// request gets a traceparent placeholder for the RequestStamper, unless it sets its own.
std::vector<PreparedRequest> prepare_requests(const Scenario& scenario, const std::string& host_header,
                                              bool traceparent = false);

// Smooth weighted round robin: deterministic, and over any window of sum(weights) picks each
// template exactly `weight` times.
class WeightedPicker {
 public:
  explicit WeightedPicker(const std::vector<unsigned>& weights);
  std::size_t next();

 private:
  std::vector<std::int64_t> weights_;
  std::vector<std::int64_t> current_;
  std::int64_t total_ = 0;
};

}  // namespace porthole::loadtest

#include "porthole/agent/otlp_ingest.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "porthole/agent/otlp_metrics_store.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/telemetry/gzip.hpp"
#include "porthole/telemetry/otlp_json.hpp"

namespace porthole::agent {

namespace {

constexpr std::string_view kProtobuf = "application/x-protobuf";
constexpr std::string_view kJson = "application/json";

std::string media_type(std::string_view content_type) {
  auto end = content_type.find(';');
  auto type = content_type.substr(0, end);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.remove_suffix(1);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) type.remove_prefix(1);
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// google.rpc.Status {int32 code = 1; string message = 2;}, what OTLP/HTTP servers answer
// 4xx/5xx with. Code 3 is INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 12 UNIMPLEMENTED.
std::string status_body(bool json, int code, const std::string& message) {
  if (json) return boost::json::serialize(boost::json::object{{"code", code}, {"message", message}});
  std::string out;
  out.push_back(0x08);
  put_varint(out, static_cast<std::uint64_t>(code));
  out.push_back(0x12);
  put_varint(out, message.size());
  out.append(message);
  return out;
}

int rpc_code(unsigned http_status) {
  switch (http_status) {
    case 413: return 8;
    case 404:
    case 405:
    case 415: return 12;
    default: return 3;
  }
}

}  // namespace

OtlpIngest::OtlpIngest(const telemetry::TelemetryPolicy& policy, telemetry::SpanProcessor& spans,
                       telemetry::LogProcessor& logs, prometheus::Registry& registry, std::size_t max_request_bytes,
                       TimeSource& time, OtlpMetricsStore* metrics)
    : policy_(policy),
      spans_(spans),
      logs_(logs),
      metrics_(metrics),
      policy_metrics_(registry, "enclave"),
      max_request_bytes_(max_request_bytes),
      time_(time),
      log_(logger("otlp")),
      requests_(prometheus::BuildCounter()
                    .Name("porthole_otlp_receiver_requests_total")
                    .Help("Requests to the agent's OTLP/HTTP receiver, by signal and HTTP status code.")
                    .Labels({{"side", "enclave"}})
                    .Register(registry)) {
  limits_.max_bytes = max_request_bytes;
  for (const char* signal : {"traces", "logs", "metrics"}) {
    if (signal == std::string_view("metrics") && metrics_ == nullptr) continue;
    for (const char* code : {"200", "400", "413", "415"}) requests_.Add({{"signal", signal}, {"code", code}});
  }
}

OtlpIngest::Signal OtlpIngest::signal_of(std::string_view target) const {
  const auto path = target.substr(0, target.find('?'));
  if (path == "/v1/traces") return Signal::Traces;
  if (path == "/v1/logs") return Signal::Logs;
  if (path == "/v1/metrics" && metrics_ != nullptr) return Signal::Metrics;
  return Signal::Other;
}

OtlpHttpResponse OtlpIngest::handle(OtlpHttpRequest&& request) {
  const Signal signal = signal_of(request.target);
  const auto type = media_type(request.content_type);
  const bool json = type == kJson;
  if (signal == Signal::Other) {
    return error(signal, json, 404,
                 metrics_ ? "not found; OTLP/HTTP is served on /v1/traces, /v1/logs and /v1/metrics"
                          : "not found; OTLP/HTTP is served on /v1/traces and /v1/logs (telemetry.metrics.enabled is false)");
  }
  if (request.method != "POST") {
    auto r = error(signal, json, 405, "only POST is served");
    r.allow_post_header = true;
    return r;
  }
  if (type != kProtobuf && type != kJson) {
    return error(signal, json, 415,
                 "unsupported Content-Type '" + request.content_type + "'; send application/x-protobuf or application/json");
  }
  auto encoding = media_type(request.content_encoding);
  if (encoding == "gzip") {
    auto plain = telemetry::gzip_decompress(request.body, max_request_bytes_);
    if (!plain) {
      // gzip_decompress cannot tell a bomb from corruption; both are the sender's fault.
      return error(signal, json, 400, "the gzip body is corrupt or inflates beyond " +
                                          std::to_string(max_request_bytes_) + " bytes (telemetry.max_request_bytes)");
    }
    request.body = std::move(*plain);
  } else if (!encoding.empty() && encoding != "identity") {
    return error(signal, json, 415, "unsupported Content-Encoding '" + request.content_encoding + "'; use gzip or none");
  }

  if (signal == Signal::Metrics) return handle_metrics(request.body, json);
  std::string decode_error;
  std::uint64_t offered = 0, rejected = 0;
  if (signal == Signal::Traces) {
    telemetry::TraceBatch batch;
    const bool ok = json ? telemetry::decode_trace_request_json(request.body, batch, decode_error, limits_)
                         : telemetry::decode_trace_request(request.body, batch, decode_error, limits_);
    if (!ok) return error(signal, json, 400, "malformed ExportTraceServiceRequest: " + decode_error);
    policy_metrics_.record(telemetry::apply_policy(policy_, batch));
    for (auto& item : telemetry::split_batch(std::move(batch))) {
      ++offered;
      if (!spans_.submit(std::move(item))) ++rejected;
    }
  } else {
    telemetry::LogBatch batch;
    const bool ok = json ? telemetry::decode_logs_request_json(request.body, batch, decode_error, limits_)
                         : telemetry::decode_logs_request(request.body, batch, decode_error, limits_);
    if (!ok) return error(signal, json, 400, "malformed ExportLogsServiceRequest: " + decode_error);
    policy_metrics_.record(telemetry::apply_policy(policy_, batch));
    for (auto& item : telemetry::split_batch(std::move(batch))) {
      ++offered;
      if (!logs_.submit(std::move(item))) ++rejected;
    }
  }
  telemetry::OtlpPartialSuccess partial;
  if (rejected > 0) {
    partial.rejected = static_cast<std::int64_t>(rejected);
    partial.error_message = std::to_string(rejected) + " of " + std::to_string(offered) +
                            (signal == Signal::Traces ? " spans" : " log records") +
                            " dropped: the agent's export queue is full";
  }
  OtlpHttpResponse r;
  r.content_type = json ? std::string(kJson) : std::string(kProtobuf);
  if (signal == Signal::Traces) {
    r.body = json ? telemetry::encode_trace_response_json(partial) : telemetry::encode_trace_response(partial);
  } else {
    r.body = json ? telemetry::encode_logs_response_json(partial) : telemetry::encode_logs_response(partial);
  }
  return finish(signal, std::move(r));
}

// Metrics are not queued: the store keeps the latest value of each series, so the answer says
// at once which points it refused (caps, invalid points) in partial_success.
OtlpHttpResponse OtlpIngest::handle_metrics(std::string_view body, bool json) {
  telemetry::MetricsBatch batch;
  std::string decode_error;
  const bool ok = json ? telemetry::decode_metrics_request_json(body, batch, decode_error, limits_)
                       : telemetry::decode_metrics_request(body, batch, decode_error, limits_);
  if (!ok) return error(Signal::Metrics, json, 400, "malformed ExportMetricsServiceRequest: " + decode_error);
  const auto outcome = metrics_->ingest(batch);
  telemetry::OtlpPartialSuccess partial;
  partial.rejected = static_cast<std::int64_t>(outcome.rejected);
  partial.error_message = outcome.message;
  OtlpHttpResponse r;
  r.content_type = json ? std::string(kJson) : std::string(kProtobuf);
  r.body = json ? telemetry::encode_metrics_response_json(partial) : telemetry::encode_metrics_response(partial);
  return finish(Signal::Metrics, std::move(r));
}

OtlpHttpResponse OtlpIngest::too_large(std::string_view target, std::string_view content_type) {
  return error(signal_of(target), media_type(content_type) == kJson, 413,
               "request body larger than " + std::to_string(max_request_bytes_) + " bytes (telemetry.max_request_bytes)");
}

OtlpHttpResponse OtlpIngest::error(Signal signal, bool json, unsigned status, const std::string& message) {
  if (status != 404) warn(std::to_string(status) + ": " + message);
  OtlpHttpResponse r;
  r.status = status;
  r.content_type = json ? std::string(kJson) : std::string(kProtobuf);
  r.body = status_body(json, rpc_code(status), message);
  return finish(signal, std::move(r));
}

OtlpHttpResponse OtlpIngest::finish(Signal signal, OtlpHttpResponse response) {
  const char* name = signal == Signal::Traces    ? "traces"
                     : signal == Signal::Logs    ? "logs"
                     : signal == Signal::Metrics ? "metrics"
                                                 : "other";
  requests_.Add({{"signal", name}, {"code", std::to_string(response.status)}}).Increment();
  return response;
}

void OtlpIngest::warn(const std::string& what) {
  // A misbehaving exporter retries fast: one line per second says enough.
  const auto now = time_.now();
  if (now - last_warning_ < std::chrono::seconds(1)) {
    ++suppressed_warnings_;
    return;
  }
  log_->warn("otlp: refused a request ({} similar refusals suppressed): {}", suppressed_warnings_, what);
  suppressed_warnings_ = 0;
  last_warning_ = now;
}

}  // namespace porthole::agent

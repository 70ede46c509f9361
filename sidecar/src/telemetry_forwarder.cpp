#include "porthole/sidecar/telemetry_forwarder.hpp"

#include <prometheus/counter.h>

#include "porthole/telemetry/otlp_json.hpp"
#include "porthole/telemetry/otlp_proto.hpp"

namespace porthole::sidecar {

namespace {

prometheus::Counter& lines(prometheus::Registry& r, const char* result) {
  return prometheus::BuildCounter()
      .Name("porthole_telemetry_jsonl_lines_total")
      .Help("Lines (one span or log record each) for telemetry.jsonl_path, by result: written, dropped, invalid.")
      .Labels({{"side", "parent"}})
      .Register(r)
      .Add({{"result", result}});
}

prometheus::Counter& collector_rejected(prometheus::Registry& r, const char* signal) {
  return prometheus::BuildCounter()
      .Name("porthole_telemetry_collector_rejected_total")
      .Help("Items the collector accepted the request of but rejected (OTLP partial_success), by signal.")
      .Labels({{"side", "parent"}})
      .Register(r)
      .Add({{"signal", signal}});
}

}  // namespace

TelemetryForwarder::TelemetryForwarder(telemetry::OtlpHttpExporter* exporter,
                                       telemetry::OtlpExporterConfig::Encoding encoding,
                                       telemetry::JsonlFileWriter* jsonl, prometheus::Registry& registry)
    : exporter_(exporter),
      encoding_(encoding),
      jsonl_(jsonl),
      lines_written_(lines(registry, "written")),
      lines_dropped_(lines(registry, "dropped")),
      lines_invalid_(lines(registry, "invalid")),
      collector_rejected_spans_(collector_rejected(registry, "spans")),
      collector_rejected_logs_(collector_rejected(registry, "logs")) {}

void TelemetryForwarder::on_spans(telemetry::TraceBatch&& batch) {
  const bool json = encoding_ == telemetry::OtlpExporterConfig::Encoding::Json;
  if (exporter_) {
    exporter_->enqueue(telemetry::OtlpSignal::Traces,
                       json ? telemetry::encode_trace_request_json(batch) : telemetry::encode_trace_request(batch),
                       batch.span_count());
  }
  if (jsonl_) {
    for (auto& item : telemetry::split_batch(std::move(batch))) {
      std::vector<telemetry::SpanItem> one;
      one.push_back(std::move(item));
      jsonl_->write(telemetry::encode_trace_request_json(telemetry::group_items(std::move(one))));
    }
    jsonl_->flush();
    count_jsonl();
  }
}

void TelemetryForwarder::on_logs(telemetry::LogBatch&& batch) {
  const bool json = encoding_ == telemetry::OtlpExporterConfig::Encoding::Json;
  if (exporter_) {
    exporter_->enqueue(telemetry::OtlpSignal::Logs,
                       json ? telemetry::encode_logs_request_json(batch) : telemetry::encode_logs_request(batch),
                       batch.log_record_count());
  }
  if (jsonl_) {
    for (auto& item : telemetry::split_batch(std::move(batch))) {
      std::vector<telemetry::LogItem> one;
      one.push_back(std::move(item));
      jsonl_->write(telemetry::encode_logs_request_json(telemetry::group_items(std::move(one))));
    }
    jsonl_->flush();
    count_jsonl();
  }
}

void TelemetryForwarder::count_jsonl() {
  const auto written = jsonl_->lines_written(), dropped = jsonl_->lines_dropped(), invalid = jsonl_->lines_invalid();
  lines_written_.Increment(static_cast<double>(written - seen_written_));
  lines_dropped_.Increment(static_cast<double>(dropped - seen_dropped_));
  lines_invalid_.Increment(static_cast<double>(invalid - seen_invalid_));
  seen_written_ = written;
  seen_dropped_ = dropped;
  seen_invalid_ = invalid;
}

void TelemetryForwarder::on_collector_response(telemetry::OtlpSignal signal, unsigned, std::string_view body) {
  if (body.empty()) return;
  const bool json = encoding_ == telemetry::OtlpExporterConfig::Encoding::Json;
  telemetry::OtlpPartialSuccess partial;
  std::string error;
  bool ok = false;
  if (signal == telemetry::OtlpSignal::Traces) {
    ok = json ? telemetry::decode_trace_response_json(body, partial, error)
              : telemetry::decode_trace_response(body, partial, error);
    if (ok && partial.rejected > 0) collector_rejected_spans_.Increment(static_cast<double>(partial.rejected));
  } else if (signal == telemetry::OtlpSignal::Logs) {
    ok = json ? telemetry::decode_logs_response_json(body, partial, error)
              : telemetry::decode_logs_response(body, partial, error);
    if (ok && partial.rejected > 0) collector_rejected_logs_.Increment(static_cast<double>(partial.rejected));
  }
}

}  // namespace porthole::sidecar

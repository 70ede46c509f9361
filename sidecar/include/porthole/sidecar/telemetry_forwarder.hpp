// Where the sidecar puts the span and log batches the agent sends: re-encoded for the OTLP/HTTP
// exporter (protobuf or JSON, as telemetry.otlp.encoding says) and/or written to the JSON-lines
// file, one OTLP/JSON ExportTrace/LogsServiceRequest holding a single span or log record per
// line (the shape the OpenTelemetry Collector's file exporter writes, so the same tools read it).
#pragma once

#include <cstdint>
#include <string_view>

#include <prometheus/registry.h>

#include "porthole/telemetry/jsonl_file_writer.hpp"
#include "porthole/telemetry/otlp_exporter_config.hpp"
#include "porthole/telemetry/otlp_http_exporter.hpp"
#include "porthole/telemetry/otlp_model.hpp"

namespace prometheus {
class Counter;
}

namespace porthole::sidecar {

// What the telemetry server hands validated batches to.
class TelemetrySink {
 public:
  virtual ~TelemetrySink() = default;
  virtual void on_spans(telemetry::TraceBatch&& batch) = 0;
  virtual void on_logs(telemetry::LogBatch&& batch) = 0;
};

class TelemetryForwarder final : public TelemetrySink {
 public:
  // Either pointer may be null (that destination is off).
  TelemetryForwarder(telemetry::OtlpHttpExporter* exporter, telemetry::OtlpExporterConfig::Encoding encoding,
                     telemetry::JsonlFileWriter* jsonl, prometheus::Registry& registry);

  void on_spans(telemetry::TraceBatch&& batch) override;
  void on_logs(telemetry::LogBatch&& batch) override;
  // The exporter's 2xx answers: counts what a collector's partial_success says it rejected.
  void on_collector_response(telemetry::OtlpSignal signal, unsigned status, std::string_view body);

 private:
  void count_jsonl();

  telemetry::OtlpHttpExporter* exporter_;
  telemetry::OtlpExporterConfig::Encoding encoding_;
  telemetry::JsonlFileWriter* jsonl_;
  prometheus::Counter& lines_written_;
  prometheus::Counter& lines_dropped_;
  prometheus::Counter& lines_invalid_;
  prometheus::Counter& collector_rejected_spans_;
  prometheus::Counter& collector_rejected_logs_;
  std::uint64_t seen_written_ = 0, seen_dropped_ = 0, seen_invalid_ = 0;
};

}  // namespace porthole::sidecar

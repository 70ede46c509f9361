#include "batch_processor_metrics.hpp"

#include "porthole/telemetry/batch_processor.hpp"

namespace porthole::telemetry {
namespace {

std::string name(std::string_view signal, std::string_view suffix) {
  return "porthole_telemetry_" + std::string(signal) + "_" + std::string(suffix);
}

prometheus::Family<prometheus::Counter>& dropped_family(prometheus::Registry& r, std::string_view signal) {
  return prometheus::BuildCounter()
      .Name(name(signal, "dropped_total"))
      .Help("Telemetry items dropped by the batch processor, by reason")
      .Register(r);
}

}  // namespace

BatchProcessorMetrics::BatchProcessorMetrics(prometheus::Registry& r, std::string_view signal,
                                             const std::string& side)
    : received(prometheus::BuildCounter()
                   .Name(name(signal, "received_total"))
                   .Help("Telemetry items offered to the batch processor")
                   .Register(r)
                   .Add({{"side", side}})),
      exported(prometheus::BuildCounter()
                   .Name(name(signal, "exported_total"))
                   .Help("Telemetry items in exports that succeeded")
                   .Register(r)
                   .Add({{"side", side}})),
      dropped_queue_full(dropped_family(r, signal).Add({{"side", side}, {"reason", std::string(kBatchDropQueueFull)}})),
      dropped_shutdown(dropped_family(r, signal).Add({{"side", side}, {"reason", std::string(kBatchDropShutdown)}})),
      dropped_export_failed(dropped_family(r, signal).Add({{"side", side}, {"reason", std::string(kBatchDropExportFailed)}})),
      dropped_export_timeout(dropped_family(r, signal).Add({{"side", side}, {"reason", std::string(kBatchDropExportTimeout)}})),
      queue_depth(prometheus::BuildGauge()
                      .Name(name(signal, "queue_depth"))
                      .Help("Telemetry items waiting in the batch processor's queue")
                      .Register(r)
                      .Add({{"side", side}})),
      queue_bytes(prometheus::BuildGauge()
                      .Name(name(signal, "queue_bytes"))
                      .Help("Approximate memory held by the queued telemetry items")
                      .Register(r)
                      .Add({{"side", side}})),
      batch_size(prometheus::BuildHistogram()
                     .Name(name(signal, "export_batch_size"))
                     .Help("Telemetry items per export")
                     .Register(r)
                     .Add({{"side", side}},
                          prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048})),
      export_duration(prometheus::BuildHistogram()
                          .Name(name(signal, "export_duration_seconds"))
                          .Help("Time from the start of an export to its completion")
                          .Register(r)
                          .Add({{"side", side}}, prometheus::Histogram::BucketBoundaries{
                                                     0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30})) {}

}  // namespace porthole::telemetry

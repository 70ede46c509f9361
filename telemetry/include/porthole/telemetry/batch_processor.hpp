// Batching of spans and log records before export, with the semantics of the OpenTelemetry
// BatchSpanProcessor (SDK spec, "Batching processor"):
// - producers never block: submit() is a try-enqueue on a bounded queue; when the queue is full
//   (max_queue_size items, or max_queue_bytes), the item is dropped and counted (queue_full);
// - an export starts when max_export_batch_size items are queued or scheduled_delay has passed
//   since the last export, and at most one export is in flight;
// - an export that has not completed after export_timeout counts as failed (export_timeout) and
//   the next one may start; a late completion is ignored;
// - force_flush()/shutdown() export everything queued, batch by batch, until done or a deadline;
//   at the shutdown deadline what is still queued and the batch still in flight are counted
//   (shutdown) once, and that export's late completion is ignored. After shutdown, submit() drops.
// - every drop is also a warning in the "telemetry" log: at most one line per reason every 10 s,
//   with the count since the previous line (written on the executor, never by producers).
//
// Threads: submit() is thread-safe (a short mutex-protected push; it posts one wake-up to the
// executor when a full batch is ready). Everything else — timers, exports, flush, shutdown,
// destruction — happens on `executor`, the agent's io_context; call those from it. The exporter's
// completion callback may be called from any thread (it is posted back to the executor).
//
// Time comes from the injected TimeSource (ManualTimeSource in tests).
//
// Self-metrics (registered on the registry passed in; <signal> is "spans" or "logs", and every
// series carries side="enclave"|"parent"). To keep submit() cheap, producers only count under
// the queue mutex; the executor copies those counts into the series whenever an export starts or
// completes, on every scheduled_delay tick, and soon after any drop — so received/queue gauges
// may lag by up to scheduled_delay. stats() is always exact.
//   porthole_telemetry_<signal>_received_total            counter  items offered to submit()
//   porthole_telemetry_<signal>_exported_total            counter  items in successful exports
//   porthole_telemetry_<signal>_dropped_total{reason}     counter  reason: queue_full, shutdown,
//                                                                   export_failed, export_timeout
//   porthole_telemetry_<signal>_queue_depth               gauge    items waiting in the queue
//   porthole_telemetry_<signal>_queue_bytes               gauge    approx_bytes of those items
//   porthole_telemetry_<signal>_export_batch_size         histogram items per export
//   porthole_telemetry_<signal>_export_duration_seconds   histogram export start -> completion
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "porthole/common/time.hpp"
#include "porthole/telemetry/item_sink.hpp"
#include "porthole/telemetry/otlp_model.hpp"

namespace prometheus {
class Registry;
}

namespace porthole::telemetry {

struct BatchConfig {
  std::size_t max_queue_size = 2048;
  std::size_t max_export_batch_size = 512;  // must be <= max_queue_size
  Duration scheduled_delay = std::chrono::seconds(5);
  Duration export_timeout = std::chrono::seconds(30);
  // A bound on memory, on top of the item count: spans from the workload can be large.
  std::size_t max_queue_bytes = 16u << 20;
  // The `side` label of the self-metrics: "enclave" (agent) or "parent" (sidecar).
  std::string side = "enclave";
};

// Returns "" when `config` is usable, else what is wrong ("max_export_batch_size (600) must not
// exceed max_queue_size (512)"). The constructor throws std::invalid_argument with that text.
std::string validate(const BatchConfig& config);

// The exporter behind a batch processor (the 7001 channel writer in the agent, the OTLP/HTTP
// exporter in the sidecar).
// What an export achieved: `ok` says the batch was delivered, except for `lost` of its items that
// the exporter itself could not send and has counted and logged (the telemetry channel drops an
// item that alone exceeds its frame limit). Implicit from bool: done(true), done(false).
struct ExportResult {
  ExportResult(bool delivered) : ok(delivered) {}  // NOLINT(google-explicit-constructor)
  ExportResult(bool delivered, std::size_t lost_items) : ok(delivered), lost(lost_items) {}
  bool ok;
  std::size_t lost = 0;
};

template <class Item>
class BatchExporter {
 public:
  using Done = std::function<void(ExportResult)>;
  virtual ~BatchExporter() = default;
  // Called on the processor's executor, never with an empty batch, at most one at a time. Call
  // `done` exactly once, from any thread, possibly before returning.
  virtual void export_batch(std::vector<Item>&& batch, Done done) = 0;
};

// Drop reasons (label values of porthole_telemetry_<signal>_dropped_total). Prefixed kBatch:
// the exporter's kDrop* constants live in the same namespace.
inline constexpr std::string_view kBatchDropQueueFull = "queue_full";
inline constexpr std::string_view kBatchDropShutdown = "shutdown";
inline constexpr std::string_view kBatchDropExportFailed = "export_failed";
inline constexpr std::string_view kBatchDropExportTimeout = "export_timeout";

// Counts so far, for tests and the agent's status page (the same numbers as the metrics).
struct BatchStats {
  std::uint64_t received = 0;
  std::uint64_t exported = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t dropped_shutdown = 0;
  std::uint64_t dropped_export_failed = 0;
  std::uint64_t dropped_export_timeout = 0;
  std::size_t queued = 0;
  std::size_t queued_bytes = 0;
  std::uint64_t exports_started = 0;
  bool export_in_flight = false;
};

template <class Item>
class BatchProcessor final : public ItemSink<Item> {
 public:
  BatchProcessor(boost::asio::any_io_executor executor, TimeSource& time,
                 BatchExporter<Item>& exporter, prometheus::Registry& registry,
                 BatchConfig config = {});
  ~BatchProcessor() override;
  BatchProcessor(const BatchProcessor&) = delete;
  BatchProcessor& operator=(const BatchProcessor&) = delete;

  // Thread-safe, never blocks. False when dropped (queue full, or after shutdown).
  bool submit(Item&& item) override;

  // Exports what is queued now, then calls `done(true)`; or `done(false)` once `timeout` passed
  // with items still queued or an export still in flight. `done` runs on the executor.
  void force_flush(Duration timeout, std::function<void(bool flushed)> done);
  // Stops accepting items, flushes as force_flush does, and at the deadline counts whatever is
  // left as dropped (shutdown), the batch in flight included. `done` runs on the executor.
  // Idempotent.
  void shutdown(Duration timeout, std::function<void(bool flushed)> done);

  BatchStats stats() const;
  const BatchConfig& config() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

extern template class BatchProcessor<SpanItem>;
extern template class BatchProcessor<LogItem>;

using SpanBatchProcessor = BatchProcessor<SpanItem>;
using LogBatchProcessor = BatchProcessor<LogItem>;
using SpanExporter = BatchExporter<SpanItem>;
using LogExporter = BatchExporter<LogItem>;

}  // namespace porthole::telemetry

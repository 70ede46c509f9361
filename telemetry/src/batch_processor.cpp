// BatchProcessor: a mutex-protected bounded deque shared with producers, and an export loop that
// runs only on the executor (timers, one export in flight, flush/shutdown deadlines).
#include "porthole/telemetry/batch_processor.hpp"

#include <array>
#include <atomic>
#include <list>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <boost/asio/post.hpp>

#include "batch_processor_metrics.hpp"
#include "bounded_ring.hpp"
#include "porthole/common/config_reader.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/common/warning_limiter.hpp"

namespace porthole::telemetry {
namespace {

template <class Item>
constexpr std::string_view signal_name();
template <>
constexpr std::string_view signal_name<SpanItem>() { return "spans"; }
template <>
constexpr std::string_view signal_name<LogItem>() { return "logs"; }

}  // namespace

std::string validate(const BatchConfig& c) {
  if (c.max_queue_size == 0) return "max_queue_size must be at least 1";
  if (c.max_export_batch_size == 0) return "max_export_batch_size must be at least 1";
  if (c.max_export_batch_size > c.max_queue_size) {
    return "max_export_batch_size (" + std::to_string(c.max_export_batch_size) +
           ") must not exceed max_queue_size (" + std::to_string(c.max_queue_size) + ")";
  }
  if (c.scheduled_delay <= Duration::zero()) return "scheduled_delay must be positive";
  if (c.export_timeout <= Duration::zero()) return "export_timeout must be positive";
  if (c.max_queue_bytes == 0) return "max_queue_bytes must be at least 1";
  return {};
}

template <class Item>
struct BatchProcessor<Item>::Core {
  Core(boost::asio::any_io_executor ex, TimeSource& t, BatchExporter<Item>& e, prometheus::Registry& registry,
       BatchConfig c)
      : executor(std::move(ex)),
        time(t),
        exporter(e),
        config(std::move(c)),
        metrics(registry, signal_name<Item>(), config.side),
        delay_timer(time.make_timer()),
        export_timer(time.make_timer()),
        log(logger("telemetry")) {}

  struct Flush {
    std::size_t remaining;  // items still to be taken from the queue for this flush
    std::function<void(bool)> done;
    std::unique_ptr<Timer> deadline;
    bool shutdown;
  };

  boost::asio::any_io_executor executor;
  TimeSource& time;
  BatchExporter<Item>& exporter;
  const BatchConfig config;
  BatchProcessorMetrics metrics;
  std::weak_ptr<Core> self;

  // Shared with producers, under `mutex`.
  mutable std::mutex mutex;
  BoundedRing<Item> queue{config.max_queue_size};
  BoundedRing<std::size_t> queue_item_bytes{config.max_queue_size};  // approx_bytes of each item
  std::size_t queued_bytes = 0;
  bool accepting = true;
  bool wake_posted = false;
  bool sync_posted = false;
  BatchStats counts;
  BatchStats synced;  // executor only: the counts already added to the Prometheus counters

  // One per drop reason: the count, its series and its rate-limited warning.
  struct DropReason {
    std::uint64_t BatchStats::*count;
    prometheus::Counter* metric;
    std::string_view name;
    WarningLimiter warnings{};
  };

  // Executor only.
  std::array<DropReason, 4> drops{{
      {&BatchStats::dropped_queue_full, &metrics.dropped_queue_full, kBatchDropQueueFull},
      {&BatchStats::dropped_shutdown, &metrics.dropped_shutdown, kBatchDropShutdown},
      {&BatchStats::dropped_export_failed, &metrics.dropped_export_failed, kBatchDropExportFailed},
      {&BatchStats::dropped_export_timeout, &metrics.dropped_export_timeout, kBatchDropExportTimeout},
  }};
  std::unique_ptr<Timer> delay_timer;
  std::unique_ptr<Timer> export_timer;
  bool delay_elapsed = false;
  std::atomic<bool> in_flight = false;  // read by stats() from any thread
  std::uint64_t generation = 0;
  std::size_t in_flight_items = 0;
  MonoTime export_started{};
  std::list<Flush> flushes;
  bool shut_down = false;
  std::shared_ptr<spdlog::logger> log;

  // The hot path: one short critical section and no shared atomics beyond the mutex. The
  // Prometheus series are brought up to date on the executor (sync_metrics), not here.
  bool submit(Item&& item) {
    const std::size_t bytes = approx_bytes(item);
    bool wake = false;
    bool sync = false;
    bool accepted = false;
    {
      std::lock_guard lock(mutex);
      ++counts.received;
      if (!accepting) {
        ++counts.dropped_shutdown;
      } else if (queue.size() >= config.max_queue_size || queued_bytes + bytes > config.max_queue_bytes) {
        ++counts.dropped_queue_full;
      } else {
        queue.push_back(std::move(item));
        queue_item_bytes.push_back(bytes);
        queued_bytes += bytes;
        accepted = true;
        if (queue.size() >= config.max_export_batch_size && !wake_posted) wake_posted = wake = true;
      }
      // A drop must reach the metrics promptly even when no export is due: post one sync per
      // burst of drops.
      if (!accepted && !sync_posted) sync_posted = sync = true;
    }
    if (wake) {
      boost::asio::post(executor, [weak = self] {
        if (auto core = weak.lock()) {
          {
            std::lock_guard lock(core->mutex);
            core->wake_posted = false;
          }
          core->maybe_export();
          core->sync_metrics();
        }
      });
    }
    if (sync) {
      boost::asio::post(executor, [weak = self] {
        if (auto core = weak.lock()) core->sync_metrics();
      });
    }
    return accepted;
  }

  // Executor only: pushes what producers (and completions) counted into the Prometheus series,
  // and warns about drops: at most one line per reason per interval, with the count since the
  // previous one; `final` reports whatever is left (nothing runs after shutdown to do it later).
  // Logs outside the mutex: in the agent, a warning becomes a log record that is submit()ted.
  void sync_metrics(bool final = false) {
    BatchStats now;
    std::size_t depth, bytes;
    {
      std::lock_guard lock(mutex);
      sync_posted = false;
      now = counts;
      depth = queue.size();
      bytes = queued_bytes;
    }
    metrics.received.Increment(static_cast<double>(now.received - synced.received));
    synced.received = now.received;
    const MonoTime t = time.now();
    for (auto& drop : drops) {
      const std::uint64_t n = now.*drop.count - synced.*drop.count;
      synced.*drop.count = now.*drop.count;
      drop.metric->Increment(static_cast<double>(n));
      auto report = drop.warnings.add(n, t);
      if (final && report == 0) report = drop.warnings.take_unreported();
      if (report != 0) warn_dropped(drop.name, report);
    }
    metrics.queue_depth.Set(static_cast<double>(depth));
    metrics.queue_bytes.Set(static_cast<double>(bytes));
  }

  void warn_dropped(std::string_view reason, std::uint64_t n) {
    const auto signal = signal_name<Item>();
    if (reason == kBatchDropQueueFull) {
      log->warn("{} batch processor: dropped {} {} since the last warning (queue_full): the queue is full "
                "(max_queue_size {}, max_queue_bytes {}); they arrive faster than they are exported",
                signal, n, signal, config.max_queue_size, config.max_queue_bytes);
    } else if (reason == kBatchDropExportFailed) {
      log->warn("{} batch processor: dropped {} {} since the last warning (export_failed): the exporter "
                "reported failure", signal, n, signal);
    } else if (reason == kBatchDropExportTimeout) {
      log->warn("{} batch processor: dropped {} {} since the last warning (export_timeout): exports did not "
                "complete within export_timeout ({})", signal, n, signal, format_duration(config.export_timeout));
    } else {
      log->warn("{} batch processor: dropped {} {} since the last warning (shutdown): still queued or being "
                "exported at the shutdown deadline, or offered after shutdown", signal, n, signal);
    }
  }

  void arm_delay() {
    delay_timer->arm(config.scheduled_delay, [this] {
      delay_elapsed = true;
      maybe_export();
      sync_metrics();
      if (!delay_timer->armed() && !shut_down) arm_delay();  // nothing was exported: keep ticking
    });
  }

  // Takes up to one batch off the queue, if an export is due.
  std::vector<Item> take_batch() {
    std::vector<Item> batch;
    std::lock_guard lock(mutex);
    if (queue.empty()) return batch;
    const bool full = queue.size() >= config.max_export_batch_size;
    if (!full && !delay_elapsed && flushes.empty()) return batch;
    const std::size_t n = std::min(queue.size(), config.max_export_batch_size);
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
      queued_bytes -= queue_item_bytes.front();
      queue_item_bytes.pop_front();
    }
    return batch;
  }

  void maybe_export() {
    if (in_flight) return;
    std::vector<Item> batch = take_batch();
    if (batch.empty()) {
      if (delay_elapsed) delay_elapsed = false;
      finish_flushes();
      return;
    }
    delay_elapsed = false;
    for (auto& f : flushes) f.remaining -= std::min(f.remaining, batch.size());
    in_flight = true;
    in_flight_items = batch.size();
    const std::uint64_t gen = ++generation;
    export_started = time.now();
    {
      std::lock_guard lock(mutex);
      ++counts.exports_started;
    }
    metrics.batch_size.Observe(static_cast<double>(batch.size()));
    export_timer->arm(config.export_timeout, [this, gen] { complete(gen, false, true); });
    if (!shut_down) arm_delay();  // the next scheduled export is a full delay after this one
    exporter.export_batch(std::move(batch), [weak = self, gen, ex = executor](ExportResult result) {
      boost::asio::post(ex, [weak, gen, result] {
        if (auto core = weak.lock()) core->complete(gen, result.ok, false, result.lost);
      });
    });
  }

  // `lost`: items of a delivered batch that the exporter could not send (export_failed).
  void complete(std::uint64_t gen, bool ok, bool timed_out, std::size_t lost = 0) {
    if (!in_flight || gen != generation) return;  // a late completion after a timeout
    in_flight = false;
    if (!timed_out) export_timer->cancel();
    const double seconds = std::chrono::duration<double>(time.now() - export_started).count();
    metrics.export_duration.Observe(seconds);
    lost = ok ? std::min(lost, in_flight_items) : 0;
    {
      std::lock_guard lock(mutex);
      if (ok) {
        counts.exported += in_flight_items - lost;
        counts.dropped_export_failed += lost;
      } else if (timed_out) {
        counts.dropped_export_timeout += in_flight_items;
      } else {
        counts.dropped_export_failed += in_flight_items;
      }
    }
    if (ok) metrics.exported.Increment(static_cast<double>(in_flight_items - lost));
    in_flight_items = 0;
    finish_flushes();
    maybe_export();
    sync_metrics();
  }

  // Completes every flush whose items have all been exported (or failed).
  void finish_flushes() {
    if (in_flight) return;
    std::vector<std::function<void(bool)>> done;
    for (auto it = flushes.begin(); it != flushes.end();) {
      if (it->remaining == 0) {
        if (it->shutdown) stop_after_shutdown();
        done.push_back(std::move(it->done));
        it = flushes.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& d : done) {
      if (d) d(true);
    }
  }

  void start_flush(Duration timeout, std::function<void(bool)> done, bool shutdown) {
    std::size_t remaining;
    {
      std::lock_guard lock(mutex);
      remaining = queue.size();
    }
    auto& flush = flushes.emplace_back(Flush{remaining, std::move(done), time.make_timer(), shutdown});
    auto it = std::prev(flushes.end());
    flush.deadline->arm(timeout, [this, it] { flush_deadline(it); });
    maybe_export();
    finish_flushes();
  }

  void flush_deadline(typename std::list<Flush>::iterator it) {
    auto done = std::move(it->done);
    const bool shutdown = it->shutdown;
    flushes.erase(it);
    if (shutdown) {
      {
        std::lock_guard lock(mutex);
        counts.dropped_shutdown += queue.size();
        queue.clear();
        queue_item_bytes.clear();
        queued_bytes = 0;
        // The batch in flight is dropped here too, exactly once: whatever its export does later
        // (succeeds, fails, times out, or completes after this processor is gone) is ignored.
        counts.dropped_shutdown += abandon_in_flight();
      }
      stop_after_shutdown();
      sync_metrics(true);
    }
    if (done) done(false);
  }

  // Forgets the export in flight (a later completion no longer matches `generation`, and its
  // timeout is cancelled) and returns how many items it held.
  std::size_t abandon_in_flight() {
    if (!in_flight) return 0;
    in_flight = false;
    ++generation;
    export_timer->cancel();
    return std::exchange(in_flight_items, 0);
  }

  void stop_after_shutdown() {
    shut_down = true;
    delay_timer->cancel();
  }

  void drop_queue_on_destruction() {
    std::uint64_t dropped;
    {
      std::lock_guard lock(mutex);
      accepting = false;
      // Counted in stats and metrics although nobody may scrape them any more: a processor
      // destroyed without shutdown() still owes an account of what it dropped.
      dropped = queue.size() + abandon_in_flight();
      counts.dropped_shutdown += dropped;
      queue.clear();
    }
    if (dropped == 0) return;
    metrics.dropped_shutdown.Increment(static_cast<double>(dropped));
    warn_dropped(kBatchDropShutdown, dropped);
  }
};

template <class Item>
BatchProcessor<Item>::BatchProcessor(boost::asio::any_io_executor executor, TimeSource& time,
                                     BatchExporter<Item>& exporter, prometheus::Registry& registry,
                                     BatchConfig config) {
  if (auto problem = validate(config); !problem.empty()) throw std::invalid_argument(problem);
  core_ = std::make_shared<Core>(std::move(executor), time, exporter, registry, std::move(config));
  core_->self = core_;
  core_->arm_delay();
}

template <class Item>
BatchProcessor<Item>::~BatchProcessor() {
  core_->drop_queue_on_destruction();
}

template <class Item>
bool BatchProcessor<Item>::submit(Item&& item) {
  return core_->submit(std::move(item));
}

template <class Item>
void BatchProcessor<Item>::force_flush(Duration timeout, std::function<void(bool)> done) {
  core_->start_flush(timeout, std::move(done), false);
}

template <class Item>
void BatchProcessor<Item>::shutdown(Duration timeout, std::function<void(bool)> done) {
  {
    std::lock_guard lock(core_->mutex);
    core_->accepting = false;
  }
  if (core_->shut_down) {
    if (done) done(true);
    return;
  }
  core_->start_flush(timeout, std::move(done), true);
}

template <class Item>
BatchStats BatchProcessor<Item>::stats() const {
  std::lock_guard lock(core_->mutex);
  BatchStats s = core_->counts;
  s.queued = core_->queue.size();
  s.queued_bytes = core_->queued_bytes;
  s.export_in_flight = core_->in_flight;
  return s;
}

template <class Item>
const BatchConfig& BatchProcessor<Item>::config() const {
  return core_->config;
}

template class BatchProcessor<SpanItem>;
template class BatchProcessor<LogItem>;

}  // namespace porthole::telemetry

// BatchProcessor with injected time: the OTel BatchSpanProcessor triggers (batch size, delay),
// one export in flight, non-blocking drops when full, timeouts, flush and shutdown deadlines,
// the memory bound, and the self-metrics.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <prometheus/registry.h>

#include <thread>

#include "captured_log.hpp"
#include "porthole/common/manual_time.hpp"
#include "porthole/telemetry/batch_processor.hpp"

namespace porthole::telemetry {
namespace {

using namespace std::chrono_literals;

class FakeExporter final : public SpanExporter {
 public:
  void export_batch(std::vector<SpanItem>&& batch, Done done) override {
    sizes.push_back(batch.size());
    for (auto& item : batch) names.push_back(item.span.name);
    pending.push_back(std::move(done));
    if (auto_complete) complete_all(true);
  }
  void complete_all(bool ok) {
    auto callbacks = std::move(pending);
    pending.clear();
    for (auto& done : callbacks) done(ok);
  }
  std::vector<std::size_t> sizes;
  std::vector<std::string> names;
  std::vector<Done> pending;
  bool auto_complete = false;
};

class BatchProcessorTest : public ::testing::Test {
 protected:
  void make(BatchConfig config) {
    processor = std::make_unique<SpanBatchProcessor>(io.get_executor(), time, exporter, registry, std::move(config));
  }
  BatchConfig small() {
    BatchConfig c;
    c.max_queue_size = 8;
    c.max_export_batch_size = 4;
    return c;
  }
  bool submit(const std::string& name) {
    SpanItem item{origin, {}};
    item.span.name = name;
    return processor->submit(std::move(item));
  }
  void drain() {
    io.restart();
    io.poll();
  }
  double metric(const std::string& name, const std::string& reason = "") {
    for (const auto& family : registry.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        bool match = reason.empty();
        for (const auto& l : m.label) match = match || (l.name == "reason" && l.value == reason);
        if (!match) continue;
        if (family.type == prometheus::MetricType::Counter) return m.counter.value;
        if (family.type == prometheus::MetricType::Gauge) return m.gauge.value;
        if (family.type == prometheus::MetricType::Histogram) return static_cast<double>(m.histogram.sample_count);
      }
    }
    return -1;
  }

  boost::asio::io_context io;
  ManualTimeSource time;
  FakeExporter exporter;
  prometheus::Registry registry;
  std::shared_ptr<const ItemOrigin> origin = std::make_shared<const ItemOrigin>();
  std::unique_ptr<SpanBatchProcessor> processor;
};

// An exporter that delivers a batch but had to drop some of its items (the telemetry channel drops
// an item too large for a frame) reports them: they count export_failed, the rest exported.
TEST_F(BatchProcessorTest, ItemsAnExporterLostCountAsFailedTheRestAsExported) {
  make(small());
  for (int i = 0; i < 4; ++i) submit("s" + std::to_string(i));
  drain();
  ASSERT_EQ(exporter.pending.size(), 1u);
  auto done = std::move(exporter.pending.front());
  exporter.pending.clear();
  done(ExportResult{true, 1});
  drain();
  EXPECT_EQ(processor->stats().exported, 3u);
  EXPECT_EQ(processor->stats().dropped_export_failed, 1u);
  EXPECT_EQ(metric("porthole_telemetry_spans_exported_total"), 3);
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "export_failed"), 1);
}

TEST_F(BatchProcessorTest, ExportsWhenABatchIsFull) {
  make(small());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(submit("s" + std::to_string(i)));
  drain();
  EXPECT_TRUE(exporter.sizes.empty());
  ASSERT_TRUE(submit("s3"));
  drain();
  EXPECT_EQ(exporter.sizes, (std::vector<std::size_t>{4}));
  EXPECT_EQ(exporter.names, (std::vector<std::string>{"s0", "s1", "s2", "s3"}));
}

TEST_F(BatchProcessorTest, ExportsAPartialBatchWhenTheDelayElapses) {
  make(small());
  submit("a");
  submit("b");
  drain();
  time.advance(4999ms);
  EXPECT_TRUE(exporter.sizes.empty());
  time.advance(1ms);
  EXPECT_EQ(exporter.sizes, (std::vector<std::size_t>{2}));
  exporter.complete_all(true);
  drain();
  EXPECT_EQ(processor->stats().exported, 2u);
  // Idle: the timer keeps ticking without exporting empty batches.
  time.advance(20s);
  EXPECT_EQ(exporter.sizes.size(), 1u);
}

TEST_F(BatchProcessorTest, KeepsAtMostOneExportInFlight) {
  make(small());
  for (int i = 0; i < 8; ++i) submit("s");
  drain();
  EXPECT_EQ(exporter.sizes.size(), 1u);
  EXPECT_TRUE(processor->stats().export_in_flight);
  exporter.complete_all(true);
  drain();
  EXPECT_EQ(exporter.sizes.size(), 2u);
  exporter.complete_all(true);
  drain();
  EXPECT_EQ(processor->stats().exported, 8u);
  EXPECT_EQ(metric("porthole_telemetry_spans_exported_total"), 8);
  EXPECT_EQ(metric("porthole_telemetry_spans_export_batch_size"), 2);
}

TEST_F(BatchProcessorTest, DropsWhenFullAndProducersNeverBlock) {
  make(small());
  // Nothing runs the executor: the queue fills and every further item is dropped at once,
  // from another thread, without waiting for the exporter.
  std::size_t accepted = 0;
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) accepted += submit("p") ? 1 : 0;
  });
  producer.join();
  EXPECT_EQ(accepted, 8u);
  const auto stats = processor->stats();
  EXPECT_EQ(stats.received, 1000u);
  EXPECT_EQ(stats.dropped_queue_full, 992u);
  EXPECT_EQ(stats.queued, 8u);
  // The Prometheus series catch up on the executor (here: one export of 4 starts, too).
  drain();
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "queue_full"), 992);
  EXPECT_EQ(metric("porthole_telemetry_spans_received_total"), 1000);
  EXPECT_EQ(metric("porthole_telemetry_spans_queue_depth"), 4);
}

TEST_F(BatchProcessorTest, BoundsQueuedBytes) {
  BatchConfig c = small();
  c.max_queue_bytes = 3000;
  make(c);
  SpanItem big{origin, {}};
  big.span.name = std::string(1000, 'x');
  std::size_t accepted = 0;
  for (int i = 0; i < 8; ++i) {
    SpanItem copy = big;
    accepted += processor->submit(std::move(copy)) ? 1 : 0;
  }
  EXPECT_LT(accepted, 3u);
  EXPECT_LE(processor->stats().queued_bytes, 3000u);
  EXPECT_EQ(processor->stats().dropped_queue_full, 8u - accepted);
}

TEST_F(BatchProcessorTest, FailedAndTimedOutExportsAreCountedAndTheNextOneStarts) {
  make(small());
  for (int i = 0; i < 8; ++i) submit("s");
  drain();
  exporter.complete_all(false);
  drain();
  EXPECT_EQ(processor->stats().dropped_export_failed, 4u);
  ASSERT_EQ(exporter.sizes.size(), 2u);
  // The second export hangs: after export_timeout it is given up and counted.
  auto late = std::move(exporter.pending);
  exporter.pending.clear();
  time.advance(30s);
  EXPECT_EQ(processor->stats().dropped_export_timeout, 4u);
  EXPECT_FALSE(processor->stats().export_in_flight);
  late[0](true);  // a late completion changes nothing
  drain();
  EXPECT_EQ(processor->stats().exported, 0u);
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "export_timeout"), 4);
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "export_failed"), 4);
}

TEST_F(BatchProcessorTest, ForceFlushExportsEverythingQueued) {
  BatchConfig c = small();
  c.max_queue_size = 16;
  make(c);
  exporter.auto_complete = true;
  for (int i = 0; i < 6; ++i) submit("s");
  std::optional<bool> flushed;
  processor->force_flush(1s, [&](bool ok) { flushed = ok; });
  drain();
  ASSERT_TRUE(flushed.has_value());
  EXPECT_TRUE(*flushed);
  EXPECT_EQ(exporter.sizes, (std::vector<std::size_t>{4, 2}));
  // Still accepting after a flush.
  EXPECT_TRUE(submit("after"));
}

TEST_F(BatchProcessorTest, ForceFlushOfAnEmptyQueueCompletesAtOnce) {
  make(small());
  std::optional<bool> flushed;
  processor->force_flush(1s, [&](bool ok) { flushed = ok; });
  EXPECT_EQ(flushed, true);
}

TEST_F(BatchProcessorTest, ShutdownFlushesThenCountsWhatMissedTheDeadline) {
  make(small());
  for (int i = 0; i < 8; ++i) submit("s");
  drain();  // one export of 4 in flight, 4 queued; the exporter never answers
  std::optional<bool> done;
  processor->shutdown(2s, [&](bool ok) { done = ok; });
  EXPECT_FALSE(submit("late"));
  EXPECT_EQ(processor->stats().dropped_shutdown, 1u);
  time.advance(1999ms);
  EXPECT_FALSE(done.has_value());
  time.advance(1ms);
  EXPECT_EQ(done, false);
  const auto stats = processor->stats();
  EXPECT_EQ(stats.dropped_shutdown, 9u);  // 4 queued + 4 in flight + 1 submitted after shutdown
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "shutdown"), 9);
  EXPECT_EQ(time.pending_timers(), 0u);  // not even the hung export's timeout
}

TEST_F(BatchProcessorTest, TheBatchInFlightAtTheShutdownDeadlineIsCountedOnceWhateverItsLateCompletion) {
  make(small());
  for (int i = 0; i < 6; ++i) submit("s");
  drain();  // 4 in flight, 2 queued
  std::optional<bool> done;
  processor->shutdown(2s, [&](bool ok) { done = ok; });
  time.advance(2s);
  EXPECT_EQ(done, false);
  EXPECT_EQ(processor->stats().dropped_shutdown, 6u);
  EXPECT_FALSE(processor->stats().export_in_flight);
  EXPECT_EQ(time.pending_timers(), 0u) << "its export_timeout would count it a second time";
  exporter.complete_all(true);  // it made it after all: too late, it is already accounted for
  drain();
  time.advance(60s);
  const auto stats = processor->stats();
  EXPECT_EQ(stats.dropped_shutdown, 6u);
  EXPECT_EQ(stats.exported, 0u);
  EXPECT_EQ(stats.dropped_export_failed + stats.dropped_export_timeout, 0u);
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "shutdown"), 6);
  EXPECT_EQ(metric("porthole_telemetry_spans_exported_total"), 0);
}

TEST_F(BatchProcessorTest, ALateCompletionAfterTheProcessorIsGoneIsHarmless) {
  make(small());
  for (int i = 0; i < 4; ++i) submit("s");
  drain();
  processor->shutdown(1s, nullptr);
  time.advance(1s);
  processor.reset();
  exporter.complete_all(false);
  drain();
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "shutdown"), 4);
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "export_failed"), 0);
}

TEST_F(BatchProcessorTest, DestroyedWithoutShutdownItCountsQueuedAndInFlightItems) {
  make(small());
  for (int i = 0; i < 5; ++i) submit("s");
  drain();  // 4 in flight, 1 queued
  processor.reset();
  EXPECT_EQ(metric("porthole_telemetry_spans_dropped_total", "shutdown"), 5);
  exporter.complete_all(true);
  drain();
  EXPECT_EQ(metric("porthole_telemetry_spans_exported_total"), 0);
}

TEST_F(BatchProcessorTest, DropsAreWarnedAtMostOncePerReasonEveryTenSecondsWithTheCount) {
  testing::CapturedLog log("telemetry");
  make(small());
  for (int i = 0; i < 20; ++i) submit("s");  // 8 queued, 12 dropped
  EXPECT_TRUE(log.warnings().empty()) << "producers only count; the executor logs";
  drain();  // the sync posted by the first drop; an export of 4 starts too
  auto full = log.warnings_with("(queue_full)");
  ASSERT_EQ(full.size(), 1u);
  EXPECT_NE(full[0].find("dropped 12 spans"), std::string::npos) << full[0];
  for (int i = 0; i < 10; ++i) submit("s");  // 4 fit, 6 dropped
  drain();
  time.advance(9999ms);  // the delay timer syncs at 5 s: still inside the interval
  EXPECT_EQ(log.warnings_with("(queue_full)").size(), 1u);
  time.advance(1ms);  // the tick at 10 s reports what was held back
  full = log.warnings_with("(queue_full)");
  ASSERT_EQ(full.size(), 2u);
  EXPECT_NE(full[1].find("dropped 6 spans"), std::string::npos) << full[1];

  exporter.complete_all(false);  // another reason has its own budget: reported at once
  drain();
  auto failed = log.warnings_with("(export_failed)");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].find("dropped 4 spans"), std::string::npos) << failed[0];

  processor->shutdown(1s, nullptr);  // 4 queued + 4 in flight at the deadline
  EXPECT_FALSE(submit("late"));
  drain();
  time.advance(1s);
  auto shutdown = log.warnings_with("(shutdown)");
  ASSERT_FALSE(shutdown.empty());
  std::uint64_t reported = 0;
  for (const auto& line : shutdown) {
    const auto at = line.find("dropped ");
    reported += std::stoull(line.substr(at + 8));
  }
  EXPECT_EQ(reported, 9u) << "the last line at the deadline reports everything left";
  EXPECT_EQ(log.warnings_with("(export_timeout)").size(), 0u);
}

TEST_F(BatchProcessorTest, ShutdownWithAWorkingExporterFlushesEverything) {
  make(small());
  exporter.auto_complete = true;
  for (int i = 0; i < 7; ++i) submit("s");
  std::optional<bool> done;
  processor->shutdown(5s, [&](bool ok) { done = ok; });
  drain();
  EXPECT_EQ(done, true);
  EXPECT_EQ(processor->stats().exported, 7u);
  EXPECT_EQ(processor->stats().dropped_shutdown, 0u);
  std::optional<bool> again;
  processor->shutdown(5s, [&](bool ok) { again = ok; });
  EXPECT_EQ(again, true);
  EXPECT_EQ(time.pending_timers(), 0u);
}

TEST_F(BatchProcessorTest, RejectsInconsistentConfig) {
  BatchConfig c;
  c.max_export_batch_size = 4096;
  EXPECT_EQ(validate(c), "max_export_batch_size (4096) must not exceed max_queue_size (2048)");
  EXPECT_THROW(make(c), std::invalid_argument);
  EXPECT_EQ(validate(BatchConfig{}), "");
}

class LogSink final : public LogExporter {
 public:
  void export_batch(std::vector<LogItem>&& batch, Done done) override {
    count += batch.size();
    done(true);
  }
  std::size_t count = 0;
};

TEST(LogBatchProcessor, CarriesLogRecordsWithTheirOwnMetricNames) {
  boost::asio::io_context io;
  ManualTimeSource time;
  LogSink sink;
  prometheus::Registry registry;
  BatchConfig c;
  c.side = "parent";
  LogBatchProcessor processor(io.get_executor(), time, sink, registry, c);
  auto origin = std::make_shared<const ItemOrigin>();
  for (int i = 0; i < 3; ++i) processor.submit(LogItem{origin, {}});
  time.advance(5s);
  io.poll();
  EXPECT_EQ(sink.count, 3u);
  bool found = false;
  for (const auto& f : registry.Collect()) {
    if (f.name == "porthole_telemetry_logs_exported_total") {
      found = true;
      EXPECT_EQ(f.metric[0].counter.value, 3);
      EXPECT_EQ(f.metric[0].label[0].value, "parent");
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace porthole::telemetry

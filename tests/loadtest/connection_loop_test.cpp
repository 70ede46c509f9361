// The scheduler with injected time: a fake exchange answers after a configurable service time
// (and can stall), ManualTimeSource advances time, nothing sleeps.
#include "connection_loop.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "porthole/common/manual_time.hpp"

namespace porthole::loadtest {
namespace {

using namespace std::chrono_literals;

// Answers each request `service` after it was sent (after `connect` first, when the connection
// is new); while the server is stalled (until stall_until) nothing is answered before
// stall_until. `refuse` fails every connect after `connect`.
class FakeExchange final : public Exchange {
 public:
  explicit FakeExchange(ManualTimeSource& time) : time_(time), timer_(time.make_timer()) {}
  void start(const PreparedRequest&, std::uint64_t index, Done done) override {
    done_ = std::move(done);
    indexes.push_back(index);
    ++started;
    if (never_answer) return;
    RequestOutcome outcome{RequestError::None, status, 10, 20};
    Duration before_write{0};
    if (!connected_) {
      before_write = connect;
      if (refuse) {
        outcome = RequestOutcome{RequestError::Connect, 0, 0, 0};
        timer_->arm(connect, [this, outcome] { std::move(done_)(outcome); });
        return;
      }
      outcome.connected = true;
      outcome.connect = connect;
      connected_ = true;
    }
    outcome.written = true;
    const MonoTime written = time_.now() + before_write;
    MonoTime answer = written + service;
    if (written >= stall_from && written < stall_until) answer = std::max(answer, stall_until);
    timer_->arm(answer - time_.now(), [this, outcome] {
      auto d = std::move(done_);
      d(outcome);
    });
  }
  void cancel(RequestError reason) override {
    timer_->cancel();
    connected_ = false;
    if (done_) {
      auto d = std::move(done_);
      RequestOutcome o{reason, 0, 0, 0};
      o.written = !refuse;
      d(o);
    }
  }

  Duration service = 100us;
  Duration connect = 0us;
  bool refuse = false;
  std::vector<std::uint64_t> indexes;
  MonoTime stall_from = MonoTime::max(), stall_until = MonoTime::max();
  bool never_answer = false;
  unsigned status = 200;
  int started = 0;

 private:
  ManualTimeSource& time_;
  std::unique_ptr<Timer> timer_;
  Done done_;
  bool connected_ = false;
};

struct Harness {
  // `window`: the measurement window's length after warm-up (0: unbounded).
  explicit Harness(unsigned connections = 1, Duration warmup = 0s, Duration late = 1ms, Duration window = 0s,
                   std::size_t dump = 0)
      : start(time.now()),
        recorder(stats, &live,
                 RecorderWindow{start, start + warmup, window == 0s ? MonoTime::max() : start + warmup + window}, late,
                 dump) {
    for (unsigned c = 0; c < connections; ++c) exchanges.push_back(std::make_unique<FakeExchange>(time));
  }
  void run(ConnectionPlan plan, unsigned connections, double rate) {
    for (unsigned c = 0; c < connections; ++c) {
      ConnectionPlan p = plan;
      p.connection = c;
      if (rate > 0) p.schedule.emplace(rate, connections, c);
      loops.push_back(std::make_unique<ConnectionLoop>(
          time, *exchanges[c], recorder, p, [this](std::uint64_t) -> const PreparedRequest& { return request; },
          [this] { ++finished; }));
    }
    for (auto& l : loops) l->start();
  }
  ManualTimeSource time;
  MonoTime start;
  RunStats stats;
  LiveCounters live;
  RunRecorder recorder;
  PreparedRequest request;
  std::vector<std::unique_ptr<FakeExchange>> exchanges;
  std::vector<std::unique_ptr<ConnectionLoop>> loops;
  int finished = 0;
};

TEST(ConnectionLoop, AchievesTheTargetRateWhenTheServerKeepsUp) {
  Harness h(4, 0s, 1ms, 10s);
  ConnectionPlan plan{h.start, h.start + 10s, {}, UINT64_MAX, 10ms};
  h.run(plan, 4, 1000);
  h.time.advance(11s);
  EXPECT_EQ(h.finished, 4);
  // Sends and successes inside the 10 s window: the target within 1 %.
  EXPECT_NEAR(static_cast<double>(h.stats.sent_in_window) / 10.0, 1000, 10);
  EXPECT_NEAR(static_cast<double>(h.stats.ok_in_window) / 10.0, 1000, 10);
  EXPECT_EQ(h.stats.completed, 10000u);
  EXPECT_EQ(h.stats.late, 0u);
  EXPECT_EQ(h.stats.errors, 0u);
  EXPECT_EQ(h.stats.latency.max(), 100000u);  // the service time, nothing more
  EXPECT_EQ(h.live.completed.load(), 10000u);
  EXPECT_EQ(h.live.sent.load(), h.stats.sent_in_window);
  EXPECT_EQ(h.stats.connect.count(), 4u);  // one connection each
}

TEST(ConnectionLoop, FailedRequestsAreNotThroughputAndUnconnectedOnesWereNotSent) {
  Harness h(2, 0s, 1ms, 1s);
  h.exchanges[0]->status = 503;   // answers, with an error
  h.exchanges[1]->refuse = true;  // never connects
  ConnectionPlan plan{h.start, h.start + 1s, {}, UINT64_MAX, 10ms};
  h.run(plan, 2, 200);
  h.time.advance(2s);
  EXPECT_EQ(h.stats.completed, 200u);
  EXPECT_EQ(h.stats.errors, 200u);
  EXPECT_EQ(h.stats.ok_in_window, 0u);       // throughput 0
  EXPECT_EQ(h.stats.sent_in_window, 100u);   // only the connection that answered sent anything
  EXPECT_EQ(h.stats.connect_failures, 100u);
  EXPECT_EQ(h.stats.service.count(), 100u);  // no service time without a write
  EXPECT_EQ(h.stats.latency.count(), 200u);
}

TEST(ConnectionLoop, ConnectTimeIsRecordedApartFromTheServiceTime) {
  Harness h(1);
  h.exchanges[0]->connect = 30ms;
  h.exchanges[0]->service = 1ms;
  ConnectionPlan plan{h.start, h.start + 1s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 10);
  h.time.advance(2s);
  ASSERT_EQ(h.stats.completed, 10u);
  ASSERT_EQ(h.stats.connect.count(), 1u);
  EXPECT_NEAR(static_cast<double>(h.stats.connect.max()), 30e6, 30e6 * 0.001);
  // The first request waited for the connection (its latency shows it), but its service time
  // starts once it was written.
  EXPECT_NEAR(static_cast<double>(h.stats.service.max()), 1e6, 1e6 * 0.001);
  EXPECT_NEAR(static_cast<double>(h.stats.latency.max()), 31e6, 31e6 * 0.001);
}

TEST(ConnectionLoop, AStallShowsInTheLatencyOfEveryRequestIntendedDuringIt) {
  Harness h(1, 0s, 1ms, 0s, 10000);
  auto& ex = *h.exchanges[0];
  ex.service = 1ms;
  const MonoTime stall_from = h.start + 2s, stall_until = h.start + 3s;  // the server stalls for 1 s
  ex.stall_from = stall_from;
  ex.stall_until = stall_until;
  ConnectionPlan plan{h.start, h.start + 5s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 100);  // every 10 ms
  h.time.advance(6s);
  ASSERT_EQ(h.finished, 1);
  EXPECT_EQ(h.stats.completed, 500u);
  // Every request intended while the server stalled was answered no earlier than the stall's
  // end: its latency is at least (stall end - intended time). Checked request by request.
  ASSERT_EQ(h.stats.requests.size(), 500u);
  std::size_t during = 0;
  for (const auto& r : h.stats.requests) {
    const MonoTime intended = h.start + std::chrono::nanoseconds(r.intended_ns);
    if (intended < stall_from || intended >= stall_until) continue;
    ++during;
    const auto latency = std::chrono::nanoseconds(r.done_ns - r.intended_ns);
    EXPECT_GE(latency, stall_until - intended) << "request " << r.index;
  }
  EXPECT_EQ(during, 100u);
  EXPECT_GE(h.stats.latency.max(), 1000000000u);
  // The service time (what a closed-loop tool reports) hides it: only one request was slow.
  std::uint64_t slow_service = 0;
  for (const auto& [index, count] : h.stats.service.nonzero_buckets()) {
    if (h.stats.service.lowest_of(index) > 10000000u) slow_service += count;
  }
  EXPECT_EQ(slow_service, 1u);
  // The 99 requests that queued behind the stalled one went out late and are counted (and a few
  // more while the backlog drained).
  EXPECT_GE(h.stats.late, 99u);
  // The mean latency during the stall (~0.5 s over 100 requests) dominates the run's mean.
  EXPECT_GT(h.stats.latency.mean(), 0.09e9);
}

TEST(ConnectionLoop, WarmUpIsNotMeasured) {
  Harness h(1, 1s);
  ConnectionPlan plan{h.start, h.start + 3s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 100);
  h.time.advance(4s);
  EXPECT_EQ(h.stats.warmup, 100u);
  EXPECT_EQ(h.stats.completed, 200u);
}

TEST(ConnectionLoop, StopsAfterItsShareOfRequests) {
  Harness h(1);
  ConnectionPlan plan{h.start, MonoTime::max(), {}, 37, 10ms};
  h.run(plan, 1, 1000);
  h.time.advance(1s);
  EXPECT_EQ(h.finished, 1);
  EXPECT_EQ(h.stats.completed, 37u);
  EXPECT_EQ(h.exchanges[0]->started, 37);
}

TEST(ConnectionLoop, ClosedLoopSendsBackToBack) {
  Harness h(1);
  ConnectionPlan plan{h.start, h.start + 1s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 0);
  h.time.advance(2s);
  EXPECT_EQ(h.finished, 1);
  EXPECT_EQ(h.stats.completed, 10000u);  // 1 s / 100 us
  EXPECT_EQ(h.stats.late, 0u);
}

TEST(ConnectionLoop, ClosedLoopWaitsForTheRunStart) {
  Harness h(1, 20ms);  // measurement starts with the run, 20 ms from now
  ConnectionPlan plan{h.start + 20ms, MonoTime::max(), {}, 100, 10ms};
  h.run(plan, 1, 0);
  EXPECT_EQ(h.exchanges[0]->started, 0);
  h.time.advance(1s);
  EXPECT_EQ(h.stats.completed, 100u);
  EXPECT_EQ(h.stats.warmup, 0u);
}

TEST(ConnectionLoop, AbortCountsRequestsThatWereNeverSent) {
  Harness h(1);
  h.exchanges[0]->never_answer = true;
  ConnectionPlan plan{h.start, h.start + 1s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 100);
  h.time.advance(2s);  // the first request hangs; 99 more were due before the end
  EXPECT_EQ(h.finished, 0);
  h.loops[0]->abort();
  EXPECT_EQ(h.finished, 1);
  EXPECT_EQ(h.stats.unsent, 99u);
  EXPECT_EQ(h.stats.completed, 1u);
  EXPECT_EQ(h.stats.errors, 1u);
  EXPECT_EQ(h.stats.error_kinds[static_cast<std::size_t>(RequestError::Timeout)], 1u);
}

TEST(ConnectionLoop, HttpErrorsCountAsErrors) {
  Harness h(1);
  h.exchanges[0]->status = 503;
  ConnectionPlan plan{h.start, h.start + 1s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 10);
  h.time.advance(2s);
  EXPECT_EQ(h.stats.completed, 10u);
  EXPECT_EQ(h.stats.errors, 10u);
  EXPECT_EQ(h.stats.status_classes[5], 10u);
}

TEST(ConnectionLoop, PassesEachRequestItsNumberAndDumpsAtMostTheLimit) {
  Harness h(1, 0s, 1ms, 0s, 5);
  ConnectionPlan plan{h.start, h.start + 1s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 10);
  h.time.advance(2s);
  EXPECT_EQ(h.exchanges[0]->indexes, (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  ASSERT_EQ(h.stats.requests.size(), 5u);
  EXPECT_EQ(h.stats.requests_not_dumped, 5u);
  EXPECT_EQ(h.stats.requests[3].index, 3u);
  EXPECT_EQ(h.stats.requests[3].intended_ns, 300000000);
  EXPECT_EQ(h.stats.requests[0].connect_ns, 0);  // the fake connects instantly
  EXPECT_EQ(h.stats.requests[3].sent_ns, 300000000);
}

TEST(ConnectionLoop, TimelineBucketsByCompletionTime) {
  Harness h(1);
  ConnectionPlan plan{h.start, h.start + 3s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 100);
  h.time.advance(4s);
  ASSERT_EQ(h.stats.timeline.size(), 3u);
  for (const auto& p : h.stats.timeline) EXPECT_EQ(p.completed, 100u);
}

}  // namespace
}  // namespace porthole::loadtest

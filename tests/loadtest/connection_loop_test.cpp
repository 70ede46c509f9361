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

// Answers each request `service` after it was sent; while the server is stalled (until
// stall_until) nothing is answered before stall_until.
class FakeExchange final : public Exchange {
 public:
  explicit FakeExchange(ManualTimeSource& time) : time_(time), timer_(time.make_timer()) {}
  void start(const PreparedRequest&, Done done) override {
    done_ = std::move(done);
    ++started;
    if (never_answer) return;
    MonoTime answer = time_.now() + service;
    if (time_.now() >= stall_from && time_.now() < stall_until) answer = std::max(answer, stall_until);
    timer_->arm(answer - time_.now(), [this] {
      auto d = std::move(done_);
      d(RequestOutcome{RequestError::None, status, 10, 20});
    });
  }
  void cancel(RequestError reason) override {
    timer_->cancel();
    if (done_) {
      auto d = std::move(done_);
      d(RequestOutcome{reason, 0, 0, 0});
    }
  }

  Duration service = 100us;
  MonoTime stall_from = MonoTime::max(), stall_until = MonoTime::max();
  bool never_answer = false;
  unsigned status = 200;
  int started = 0;

 private:
  ManualTimeSource& time_;
  std::unique_ptr<Timer> timer_;
  Done done_;
};

struct Harness {
  explicit Harness(unsigned connections = 1, Duration warmup = 0s, Duration late = 1ms)
      : start(time.now()), recorder(stats, &live, start + warmup, late) {
    for (unsigned c = 0; c < connections; ++c) exchanges.push_back(std::make_unique<FakeExchange>(time));
  }
  void run(ConnectionPlan plan, unsigned connections, double rate) {
    for (unsigned c = 0; c < connections; ++c) {
      ConnectionPlan p = plan;
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
  Harness h(4);
  ConnectionPlan plan{h.start, h.start + 10s, {}, UINT64_MAX, 10ms};
  h.run(plan, 4, 1000);
  h.time.advance(11s);
  EXPECT_EQ(h.finished, 4);
  const double achieved = static_cast<double>(h.stats.completed) / 10.0;
  EXPECT_NEAR(achieved, 1000, 10);  // within 1 %
  EXPECT_EQ(h.stats.completed, 10000u);
  EXPECT_EQ(h.stats.late, 0u);
  EXPECT_EQ(h.stats.errors, 0u);
  EXPECT_EQ(h.stats.latency.max(), 100000u);  // the service time, nothing more
  EXPECT_EQ(h.live.completed.load(), 10000u);
}

TEST(ConnectionLoop, AStallShowsInTheLatencyOfEveryRequestIntendedDuringIt) {
  Harness h(1);
  auto& ex = *h.exchanges[0];
  ex.service = 1ms;
  ex.stall_from = h.start + 2s;  // the server stalls for 1 s
  ex.stall_until = h.start + 3s;
  ConnectionPlan plan{h.start, h.start + 5s, {}, UINT64_MAX, 10ms};
  h.run(plan, 1, 100);  // every 10 ms
  h.time.advance(6s);
  ASSERT_EQ(h.finished, 1);
  EXPECT_EQ(h.stats.completed, 500u);
  // Requests intended at 2.00, 2.01, ... 2.99 s all wait for the stall to end at 3 s, so each
  // has latency >= 3 s - intended: at least ceil((1 s - x) / 10 ms) requests exceed any x.
  auto count_over = [](const LatencyHistogram& hist, double seconds) {
    std::uint64_t n = 0;
    for (const auto& [index, count] : hist.nonzero_buckets()) {
      if (static_cast<double>(hist.lowest_of(index)) > seconds * 1e9) n += count;
    }
    return n;
  };
  for (double x : {0.205, 0.405, 0.605, 0.805}) {
    const auto must = static_cast<std::uint64_t>(std::ceil((1 - x) / 0.01));
    EXPECT_GE(count_over(h.stats.latency, x), must) << x;
  }
  EXPECT_GE(h.stats.latency.max(), 1000000000u);
  // The service time (what a closed-loop tool reports) hides it: only one request was slow.
  EXPECT_EQ(count_over(h.stats.service, 0.01), 1u);
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

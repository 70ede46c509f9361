#include "connection_loop.hpp"

#include <algorithm>

namespace porthole::loadtest {

ConnectionLoop::ConnectionLoop(TimeSource& time, Exchange& exchange, RunRecorder& recorder, ConnectionPlan plan,
                               std::function<const PreparedRequest&(std::uint64_t)> pick,
                               std::function<void()> finished)
    : time_(time),
      exchange_(exchange),
      recorder_(recorder),
      plan_(std::move(plan)),
      pick_(std::move(pick)),
      finished_(std::move(finished)),
      timer_(time.make_timer()) {}

void ConnectionLoop::start() { schedule_next(); }

void ConnectionLoop::schedule_next() {
  if (aborted_ || done_) return;
  if (index_ >= plan_.max_requests) return finish();
  const MonoTime now = time_.now();
  if (!plan_.schedule) {
    if (now >= plan_.end) return finish();
    // Closed loop starts with everyone else, not before the run's t=0 (it would count as warm-up).
    if (now < plan_.start) {
      timer_->arm(plan_.start - now, [this] { schedule_next(); });
      return;
    }
    return send(now);
  }
  const MonoTime intended = plan_.start + plan_.schedule->intended(index_);
  if (intended >= plan_.end) return finish();
  if (intended <= now) return send(intended);
  timer_->arm(intended - now, [this, intended] { send(intended); });
}

void ConnectionLoop::send(MonoTime intended) {
  times_.connection = plan_.connection;
  times_.index = index_;
  times_.intended = intended;
  times_.dispatched = time_.now();
  in_flight_ = true;
  const auto& request = pick_(index_);
  ++index_;
  exchange_.start(request, times_.index, [this](const RequestOutcome& outcome) {
    in_flight_ = false;
    times_.done = time_.now();
    recorder_.record(times_, outcome);
    if (aborted_) return finish();
    // Closed loop: don't spin on a dead server.
    if (!plan_.schedule && outcome.error != RequestError::None) {
      timer_->arm(plan_.error_pause, [this] { schedule_next(); });
      return;
    }
    schedule_next();
  });
}

void ConnectionLoop::abort() {
  if (aborted_ || done_) return;
  aborted_ = true;
  timer_->cancel();
  // Open loop: every request intended before the end that never went out is owed.
  if (plan_.schedule) {
    const MonoTime cutoff = std::min(plan_.end, time_.now());
    const auto owed = std::min<std::uint64_t>(plan_.schedule->due_before(cutoff - plan_.start), plan_.max_requests);
    for (std::uint64_t i = index_; i < owed; ++i) recorder_.record_unsent(plan_.start + plan_.schedule->intended(i));
  }
  if (in_flight_) {
    exchange_.cancel(RequestError::Timeout);  // its callback calls finish()
  } else {
    finish();
  }
}

void ConnectionLoop::finish() {
  if (done_) return;
  done_ = true;
  timer_->cancel();
  if (finished_) finished_();
}

}  // namespace porthole::loadtest

#include "load_runner.hpp"

#include <ctime>
#include <memory>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection_loop.hpp"
#include "porthole/common/asio_time.hpp"
#include "porthole/telemetry/id_generator.hpp"

namespace porthole::loadtest {

namespace asio = boost::asio;
using std::chrono::nanoseconds;

namespace {

constexpr auto kSweepEvery = std::chrono::milliseconds(50);

struct RunClock {
  MonoTime start;          // t=0, warm-up begins
  MonoTime measure_start;  // warm-up ends
  MonoTime end;            // nothing intended at or after this is sent
  MonoTime drain_deadline;
};

// One thread: its io_context, connections and stats.
class LoadWorker {
 public:
  LoadWorker(const RunConfig& config, const std::vector<PreparedRequest>& requests, const RunClock& clock,
             std::uint64_t run_id, std::vector<unsigned> connection_ids, LiveCounters* live,
             const std::atomic<bool>& stop)
      : config_(config),
        requests_(requests),
        clock_(clock),
        stop_(stop),
        time_(io_.get_executor()),
        recorder_(stats_, live, RecorderWindow{clock.start, clock.measure_start, clock.end}, config.late_threshold,
                  config.dump_limit == 0 ? 0 : (config.dump_limit + config.threads - 1) / config.threads),
        sweep_(io_) {
    std::vector<unsigned> weights;
    for (const auto& t : config.scenario.requests) weights.push_back(t.weight);
    for (unsigned c : connection_ids) {
      auto conn = std::make_unique<Connection>(io_, config.target, weights,
                                               RequestStamper(run_id, c, config.connections));
      ConnectionPlan plan;
      plan.connection = c;
      plan.start = clock.start;
      plan.end = clock.end;
      if (config.rate > 0) plan.schedule.emplace(config.rate, config.connections, c, config.jitter, config.seed);
      if (config.requests) plan.max_requests = share_of_total(*config.requests, config.connections, c);
      auto* raw = conn.get();
      conn->loop = std::make_unique<ConnectionLoop>(
          time_, conn->exchange, recorder_, plan,
          [this, raw](std::uint64_t) -> const PreparedRequest& { return requests_[raw->picker.next()]; },
          [this] { ++finished_; });
      connections_.push_back(std::move(conn));
    }
  }

  void set_timeline_interval(nanoseconds interval) { stats_.timeline_interval = interval; }

  void run() {
    asio::post(io_, [this] {
      for (auto& c : connections_) c->loop->start();
      sweep();
    });
    io_.run();
  }

  RunStats& stats() { return stats_; }

 private:
  struct Connection {
    Connection(asio::io_context& io, const ExchangeTarget& target, const std::vector<unsigned>& weights,
               RequestStamper stamper)
        : exchange(io, target, stamper), picker(weights) {}
    SocketExchange exchange;
    WeightedPicker picker;
    std::unique_ptr<ConnectionLoop> loop;
  };

  // Every 50 ms: per-request timeouts, the drain deadline and interruption; stops when every
  // connection is done so io_.run() returns.
  void sweep() {
    if (finished_ == connections_.size()) return;
    const MonoTime now = time_.now();
    const bool abort = stop_.load(std::memory_order_relaxed) || now >= clock_.drain_deadline;
    for (auto& c : connections_) {
      if (abort) {
        c->loop->abort();
      } else if (c->loop->in_flight() && now - c->loop->in_flight_since() > config_.timeout) {
        c->exchange.cancel(RequestError::Timeout);
      }
    }
    if (finished_ == connections_.size()) return;
    sweep_.expires_after(kSweepEvery);
    sweep_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) sweep();
    });
  }

  const RunConfig& config_;
  const std::vector<PreparedRequest>& requests_;
  RunClock clock_;
  const std::atomic<bool>& stop_;
  // Only this worker's thread ever touches its io_context: no locking in the reactor.
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE};
  AsioTimeSource time_;
  RunStats stats_;
  RunRecorder recorder_;
  asio::steady_timer sweep_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::size_t finished_ = 0;
};

std::string rfc3339_now() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

nanoseconds timeline_interval_for(std::optional<nanoseconds> expected) {
  if (!expected) return std::chrono::milliseconds(10);
  const nanoseconds one = std::chrono::seconds(1);
  const auto secs = (*expected + one - nanoseconds(1)) / one;  // ceil
  const auto per_point = (secs + 599) / 600;
  return one * std::max<std::int64_t>(1, per_point);
}

RunResult run_load(const RunConfig& config, LiveCounterSet* live, const std::atomic<bool>& stop) {
  if (config.connections == 0 || config.threads == 0 || config.threads > config.connections) {
    throw std::invalid_argument("need 1 <= threads <= connections");
  }
  if (!config.duration && !config.requests) throw std::invalid_argument("give a duration or a request count");
  if (config.rate < 0) throw std::invalid_argument("rate must be >= 0");
  if (config.scenario.requests.empty()) throw std::invalid_argument("the scenario has no requests");
  const auto requests = prepare_requests(config.scenario, config.host_header, config.traceparent);
  std::uint64_t run_id = 0;
  while (run_id == 0) run_id = telemetry::random_u64();  // a zero trace-id is invalid

  RunClock clock;
  // A short lead so every thread is running before the first intended send time.
  clock.start = MonoClock::now() + std::chrono::milliseconds(20);
  clock.measure_start = clock.start + config.warmup;
  clock.end = config.duration ? clock.measure_start + *config.duration : MonoTime::max();
  clock.drain_deadline = config.duration ? clock.end + config.timeout : MonoTime::max();
  std::optional<nanoseconds> expected = config.duration;
  if (!config.duration && config.rate > 0) {
    expected = nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(*config.requests) / config.rate));
  }

  std::vector<std::unique_ptr<LoadWorker>> workers;
  for (unsigned w = 0; w < config.threads; ++w) {
    std::vector<unsigned> ids;
    for (unsigned c = w; c < config.connections; c += config.threads) ids.push_back(c);
    workers.push_back(std::make_unique<LoadWorker>(config, requests, clock, run_id, std::move(ids),
                                                   live ? &live->worker(w) : nullptr, stop));
    workers.back()->set_timeline_interval(timeline_interval_for(expected));
  }
  RunResult result;
  result.started_at = rfc3339_now();
  result.target_rate = config.rate;
  result.run_id = run_id;
  result.run_start_monotonic_ns = std::chrono::duration_cast<nanoseconds>(clock.start.time_since_epoch()).count();
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads) t.join();
  const MonoTime finished = MonoClock::now();

  result.stats.timeline_interval = timeline_interval_for(expected);
  for (auto& w : workers) result.stats.merge(w->stats());
  result.interrupted = stop.load();
  // The measurement window: the configured duration, or up to the last response (count mode)
  // or the interruption.
  nanoseconds window = config.duration.value_or(nanoseconds(result.stats.last_done_ns));
  if (result.interrupted) window = std::min<nanoseconds>(window, finished - clock.measure_start);
  result.measured_seconds = std::max(0.0, std::chrono::duration<double>(window).count());
  if (result.measured_seconds > 0) {
    result.send_rate = static_cast<double>(result.stats.sent_in_window) / result.measured_seconds;
    result.throughput = static_cast<double>(result.stats.ok_in_window) / result.measured_seconds;
  }
  return result;
}

}  // namespace porthole::loadtest

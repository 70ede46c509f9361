// Drives one connection through a run: at each request's intended time (open loop) or as soon
// as the previous response arrived (closed loop, --rate 0), it starts the next exchange and
// records intended/sent/done times. A request whose intended time has passed while the
// previous one was still in flight goes out at once and is charged from its intended time.
// Single-threaded: everything runs on the worker's executor (or a ManualTimeSource in tests).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "exchange.hpp"
#include "open_loop_schedule.hpp"
#include "run_stats.hpp"
#include "porthole/common/time.hpp"

namespace porthole::loadtest {

struct ConnectionPlan {
  MonoTime start;                              // the run's t=0 (warm-up begins)
  MonoTime end;                                // no request intended at or after this is sent
  std::optional<OpenLoopSchedule> schedule;    // nullopt: closed loop, as fast as responses come
  std::uint64_t max_requests = UINT64_MAX;     // this connection's share of --requests
  Duration error_pause{std::chrono::milliseconds(10)};  // closed loop: pause after an error
  std::uint32_t connection = 0;                // its number in the run (request ids, the dump)
};

class ConnectionLoop {
 public:
  // `pick` chooses the request for index i (weighted scenario); `finished` runs once when the
  // loop has nothing more to send and nothing in flight.
  ConnectionLoop(TimeSource& time, Exchange& exchange, RunRecorder& recorder, ConnectionPlan plan,
                 std::function<const PreparedRequest&(std::uint64_t)> pick, std::function<void()> finished);

  void start();
  // The drain deadline passed (or the run was interrupted): cancel what is in flight and count
  // what was intended before min(end, now) but never sent.
  void abort();

  bool in_flight() const { return in_flight_; }
  MonoTime in_flight_since() const { return times_.dispatched; }
  std::uint64_t sent() const { return index_; }
  bool done() const { return done_; }

 private:
  void schedule_next();
  void send(MonoTime intended);
  void finish();

  TimeSource& time_;
  Exchange& exchange_;
  RunRecorder& recorder_;
  ConnectionPlan plan_;
  std::function<const PreparedRequest&(std::uint64_t)> pick_;
  std::function<void()> finished_;
  std::unique_ptr<Timer> timer_;
  std::uint64_t index_ = 0;  // of the next request to send
  bool in_flight_ = false;
  bool aborted_ = false;
  bool done_ = false;
  RequestTimes times_{};  // of the request in flight
};

}  // namespace porthole::loadtest

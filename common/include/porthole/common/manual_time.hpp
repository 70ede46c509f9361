// A TimeSource for tests: time stands still until advance() moves it, and advance() runs the
// callbacks of every timer that falls due, in deadline order. Single-threaded by design.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <utility>

#include "porthole/common/time.hpp"

namespace porthole {

class ManualTimeSource final : public TimeSource {
 public:
  explicit ManualTimeSource(MonoTime start = MonoTime{} + std::chrono::hours(1000))
      : now_(start), state_(std::make_shared<State>()) {}

  MonoTime now() const override { return now_; }
  std::chrono::system_clock::time_point system_now() const override {
    return std::chrono::system_clock::time_point{} +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_.time_since_epoch());
  }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<ManualTimer>(*this, state_); }

  // Moves time forward by `by`, firing due timers one at a time (a callback may arm new ones).
  void advance(Duration by) {
    const MonoTime target = now_ + by;
    for (;;) {
      auto it = state_->pending.begin();
      if (it == state_->pending.end() || it->first.first > target) break;
      auto [key, callback] = std::move(*it);
      state_->pending.erase(it);
      now_ = key.first;
      callback();
    }
    now_ = target;
  }
  std::size_t pending_timers() const { return state_->pending.size(); }

 private:
  using Key = std::pair<MonoTime, std::uint64_t>;  // deadline, then arming order
  struct State {
    std::map<Key, std::function<void()>> pending;
    std::uint64_t next_id = 0;
  };

  class ManualTimer final : public Timer {
   public:
    ManualTimer(ManualTimeSource& source, std::shared_ptr<State> state)
        : source_(source), state_(std::move(state)) {}
    ~ManualTimer() override { cancel(); }
    void arm(Duration after, std::function<void()> callback) override {
      cancel();
      key_ = Key{source_.now() + after, state_->next_id++};
      state_->pending.emplace(*key_, [this, cb = std::move(callback)] {
        key_.reset();
        cb();
      });
    }
    void cancel() override {
      if (key_) state_->pending.erase(*key_);
      key_.reset();
    }
    bool armed() const override { return key_.has_value(); }

   private:
    ManualTimeSource& source_;
    std::shared_ptr<State> state_;
    std::optional<Key> key_;
  };

  MonoTime now_;
  std::shared_ptr<State> state_;
};

}  // namespace porthole

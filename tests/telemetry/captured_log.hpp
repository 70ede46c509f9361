// Captures what one component logger writes at warn and above, for tests that check a degraded
// mode is reported (and how often). Attached for the object's lifetime.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>

#include "porthole/common/logging.hpp"

namespace porthole::telemetry::testing {

class CapturedLog {
 public:
  explicit CapturedLog(const std::string& component) : logger_(logger(component)), sink_(std::make_shared<Sink>()) {
    logger_->sinks().push_back(sink_);
  }
  ~CapturedLog() {
    auto& sinks = logger_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::vector<std::string> warnings() const { return sink_->lines(); }
  // The warnings containing `text`.
  std::vector<std::string> warnings_with(const std::string& text) const {
    std::vector<std::string> out;
    for (auto& line : warnings()) {
      if (line.find(text) != std::string::npos) out.push_back(line);
    }
    return out;
  }

 private:
  class Sink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<std::string> lines() {
      std::lock_guard lock(this->mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      if (msg.level >= spdlog::level::warn) lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}

   private:
    std::vector<std::string> lines_;
  };

  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<Sink> sink_;
};

}  // namespace porthole::telemetry::testing

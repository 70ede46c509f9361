#include "porthole/agent/agent_log_forwarder.hpp"

#include <mutex>

#include <spdlog/sinks/sink.h>

#include "porthole/common/logging.hpp"

namespace porthole::agent {
namespace {

thread_local bool forwarding = false;

const char* severity_text(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "TRACE";
    case spdlog::level::debug: return "DEBUG";
    case spdlog::level::info: return "INFO";
    case spdlog::level::warn: return "WARN";
    case spdlog::level::err: return "ERROR";
    case spdlog::level::critical: return "FATAL";
    default: return "";
  }
}

}  // namespace

int severity_number(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return 1;
    case spdlog::level::debug: return 5;
    case spdlog::level::info: return 9;
    case spdlog::level::warn: return 13;
    case spdlog::level::err: return 17;
    case spdlog::level::critical: return 21;
    default: return 0;
  }
}

// Not spdlog's base_sink: its log() takes the sink's mutex before any check of ours, so a
// record logged from inside submit() on the same thread would deadlock instead of being skipped.
class AgentLogForwarder::Sink final : public spdlog::sinks::sink {
 public:
  explicit Sink(telemetry::ItemSink<telemetry::LogItem>& target) : target_(&target) {}

  void detach() {
    std::lock_guard lock(mutex_);
    target_ = nullptr;
  }

  void log(const spdlog::details::log_msg& msg) override {
    if (forwarding) return;  // checked before locking: this thread may hold the mutex already
    forwarding = true;
    {
      std::lock_guard lock(mutex_);
      if (target_) {
        telemetry::LogItem item;
        item.origin = origin_for(std::string(msg.logger_name.data(), msg.logger_name.size()));
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(msg.time.time_since_epoch()).count();
        item.record.time_unix_nano = item.record.observed_time_unix_nano = static_cast<std::uint64_t>(ns);
        item.record.severity_number = severity_number(msg.level);
        item.record.severity_text = severity_text(msg.level);
        item.record.body = telemetry::AnyValue(std::string(msg.payload.data(), msg.payload.size()));
        target_->submit(std::move(item));  // a refusal is counted by the pipeline
      }
    }
    forwarding = false;
  }
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  // One origin per component, shared by its records (the batch groups them under one scope).
  std::shared_ptr<const telemetry::ItemOrigin> origin_for(const std::string& component) {
    auto it = origins_.find(component);
    if (it != origins_.end()) return it->second;
    auto origin = std::make_shared<telemetry::ItemOrigin>();
    origin->resource.attributes.push_back({"service.name", std::string("porthole-agent")});
    origin->resource.attributes.push_back({"service.version", std::string(PORTHOLE_VERSION)});
    origin->scope.name = "porthole.agent." + component;
    return origins_.emplace(component, std::move(origin)).first->second;
  }

  std::mutex mutex_;
  telemetry::ItemSink<telemetry::LogItem>* target_;
  std::map<std::string, std::shared_ptr<const telemetry::ItemOrigin>> origins_;
};

AgentLogForwarder::AgentLogForwarder(telemetry::ItemSink<telemetry::LogItem>& sink, spdlog::level::level_enum level)
    : sink_(std::make_shared<Sink>(sink)) {
  sink_->set_level(level);
  add_log_sink(sink_);
}

AgentLogForwarder::~AgentLogForwarder() { sink_->detach(); }

}  // namespace porthole::agent

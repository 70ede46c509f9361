#include "porthole/relay/dialer.hpp"

namespace porthole::relay {
namespace {

prometheus::Family<prometheus::Counter>& attempts_family(prometheus::Registry& r, const std::string& side) {
  return prometheus::BuildCounter()
      .Name("porthole_dial_attempts_total")
      .Help("Connection attempts to the other side of the boundary, by channel and result.")
      .Labels({{"side", side}})
      .Register(r);
}

}  // namespace

Dialer::Dialer(boost::asio::any_io_executor executor, TimeSource& time, DialerOptions options,
               prometheus::Registry& registry, const std::string& side, std::function<double()> uniform01,
               std::shared_ptr<spdlog::logger> log)
    : executor_(std::move(executor)),
      time_(time),
      options_(std::move(options)),
      log_(std::move(log)),
      backoff_(options_.backoff, std::move(uniform01)),
      retry_timer_(time.make_timer()),
      connect_timer_(time.make_timer()),
      ok_(attempts_family(registry, side).Add({{"channel", options_.channel}, {"result", "ok"}})),
      failed_(attempts_family(registry, side).Add({{"channel", options_.channel}, {"result", "error"}})),
      delay_(prometheus::BuildGauge()
                 .Name("porthole_dial_delay_seconds")
                 .Help("The delay before the next connection attempt, by channel (0 while connected).")
                 .Labels({{"side", side}})
                 .Register(registry)
                 .Add({{"channel", options_.channel}})) {}

Dialer::~Dialer() { stop(); }

void Dialer::dial(Connected connected) {
  connected_ = std::move(connected);
  attempt();
}

void Dialer::redial(Connected connected, const std::string& why, bool was_healthy) {
  connected_ = std::move(connected);
  if (was_healthy) backoff_.reset();
  retry_later(why);
}

void Dialer::stop() {
  if (stopped_) return;
  stopped_ = true;
  retry_timer_->cancel();
  connect_timer_->cancel();
  if (dialling_) {
    boost::system::error_code ignored;
    dialling_->close(ignored);
  }
}

void Dialer::attempt() {
  if (stopped_) return;
  dialling_ = std::make_unique<Stream>(executor_);
  connect_timer_->arm(options_.connect_timeout, [this] {
    boost::system::error_code ignored;
    if (dialling_) dialling_->close(ignored);  // completes the connect with operation_aborted
  });
  async_connect(*dialling_, options_.endpoint, [this](const boost::system::error_code& ec) {
    connect_timer_->cancel();
    if (stopped_) return;
    if (ec) {
      failed_.Increment();
      retry_later(ec == boost::asio::error::operation_aborted ? "connect timed out" : ec.message());
      return;
    }
    ok_.Increment();
    delay_.Set(0);
    Stream stream = std::move(*dialling_);
    dialling_.reset();
    apply_stream_options(stream, options_.endpoint.kind, options_.stream);
    connected_(std::move(stream));
  });
}

void Dialer::retry_later(const std::string& why) {
  if (stopped_) return;
  const auto delay = backoff_.next();
  delay_.Set(std::chrono::duration<double>(delay).count());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
  // Loud on the first failure, quieter while the outage lasts.
  if (backoff_.attempts() <= 1) {
    log_->warn("{}: cannot reach {}: {}; retrying in {} ms", options_.channel, options_.endpoint.to_string(), why, ms);
  } else {
    log_->info("{}: still cannot reach {} ({}, attempt {}); retrying in {} ms", options_.channel,
               options_.endpoint.to_string(), why, backoff_.attempts(), ms);
  }
  retry_timer_->arm(delay, [this] { attempt(); });
}

}  // namespace porthole::relay

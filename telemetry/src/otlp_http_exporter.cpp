#include "porthole/telemetry/otlp_http_exporter.hpp"

#include <array>
#include <deque>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "collector_client.hpp"
#include "otlp_exporter_metrics.hpp"
#include "porthole/common/warning_limiter.hpp"
#include "porthole/common/backoff.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/telemetry/gzip.hpp"
#include "porthole/telemetry/retry_after.hpp"

namespace porthole::telemetry {
namespace {

namespace http = boost::beast::http;

constexpr std::size_t kLoggedBodyBytes = 256;

// A collector's error body is untrusted text: keep it short and printable in our logs.
std::string sanitise_for_log(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kLoggedBodyBytes)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '.';
  }
  if (body.size() > kLoggedBodyBytes) out += "...";
  return out;
}

bool is_retryable_status(unsigned status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

std::string_view rejection_reason(unsigned status) {
  if (status >= 400 && status < 500) return kDropRejected4xx;
  if (status >= 500 && status < 600) return kDropRejected5xx;
  return kDropRejectedOther;
}

double seconds_between(MonoTime from, MonoTime to) { return std::chrono::duration<double>(to - from).count(); }

}  // namespace

class OtlpHttpExporter::Impl {
 public:
  Impl(boost::asio::any_io_executor executor, TimeSource& time, prometheus::Registry& registry,
       OtlpExporterConfig config, Options options)
      : executor_(executor),
        time_(time),
        config_(std::move(config)),
        options_(std::move(options)),
        metrics_(registry, options_.side),
        shutdown_timer_(time.make_timer()),
        log_(logger("exporter")) {
    if (!options_.uniform01) options_.uniform01 = make_random_uniform01();
    for (const auto& [name, value] : config_.headers) {
      // A CR/LF here would let configuration inject requests; the config reader checks too.
      if (auto problem = header_problem(name, value); !problem.empty()) {
        throw ConfigError("OTLP exporter header '" + name + "': " + problem);
      }
    }
    const BackoffPolicy policy{config_.initial_backoff, config_.max_backoff, 2.0};
    for (auto signal : kOtlpSignals) {
      auto& lane = lanes_[index_of(signal)];
      lane.signal = signal;
      lane.backoff.emplace(policy, options_.uniform01);
      lane.retry_timer = time.make_timer();
      const auto url_text = config_.url_for(signal);
      if (url_text.empty()) continue;
      HttpUrl url;
      std::string error;
      if (!parse_http_url(url_text, url, error)) {
        throw ConfigError("OTLP exporter " + std::string(to_string(signal)) + " endpoint: " + error);
      }
      lane.url_text = url_text;
      lane.client = std::make_shared<CollectorClient>(executor_, time_, std::move(url), config_.timeout);
    }
    metrics_.queue(0, 0);
  }

  ~Impl() {
    for (auto& lane : lanes_) {
      if (lane.client) lane.client->close();
    }
  }

  bool enqueue(OtlpSignal signal, std::string body, std::uint64_t items) {
    auto& lane = lanes_[index_of(signal)];
    if (shutting_down_) return refuse(lane, kDropShutdown, items);
    if (!lane.client) return refuse(lane, kDropDisabled, items);
    if (config_.compression == OtlpExporterConfig::Compression::Gzip) {
      // Compress before queueing so the bounded buffer holds (and counts) the smaller form.
      if (auto compressed = gzip_compress(body)) {
        body = std::move(*compressed);
      } else {
        return refuse(lane, kDropBufferFull, items);  // zlib only fails when out of memory
      }
    }
    const std::uint64_t bytes = body.size();
    if (queued_requests_ + 1 > config_.max_queue_requests || queued_bytes_ + bytes > config_.max_queue_bytes) {
      return refuse(lane, kDropBufferFull, items);
    }
    lane.queue.push_back(Pending{make_request(lane, std::move(body)), items, bytes, std::nullopt});
    queued_bytes_ += bytes;
    ++queued_requests_;
    metrics_.queue(queued_bytes_, queued_requests_);
    pump(lane);
    return true;
  }

  void shutdown(Duration deadline, std::function<void()> done) {
    if (shutting_down_) {
      boost::asio::post(executor_, std::move(done));
      return;
    }
    shutting_down_ = true;
    shutdown_done_ = std::move(done);
    for (auto& lane : lanes_) {
      if (lane.retry_timer->armed()) {
        lane.retry_timer->cancel();
        attempt(lane);
      }
    }
    shutdown_timer_->arm(deadline, [this] { drop_everything(); });
    maybe_finish_shutdown();
  }

  std::uint64_t queued_bytes() const { return queued_bytes_; }
  std::uint64_t queued_requests() const { return queued_requests_; }
  bool idle() const { return queued_requests_ == 0; }
  bool waiting_to_retry(OtlpSignal signal) const { return lanes_[index_of(signal)].retry_timer->armed(); }

 private:
  struct Pending {
    std::shared_ptr<const OtlpHttpRequest> request;
    std::uint64_t items = 0;
    std::uint64_t bytes = 0;
    std::optional<MonoTime> first_attempt;  // max_elapsed counts from here
  };

  // One signal's queue and connection: requests of a signal go out one at a time, in order,
  // so a slow signal never reorders itself and never blocks the others.
  struct Lane {
    OtlpSignal signal = OtlpSignal::Traces;
    std::string url_text;
    std::shared_ptr<CollectorClient> client;  // null: this signal has no endpoint
    std::deque<Pending> queue;
    std::optional<Backoff> backoff;
    std::unique_ptr<Timer> retry_timer;
    bool in_flight = false;
    bool resent_on_fresh_connection = false;
    MonoTime attempt_started{};
  };

  std::shared_ptr<const OtlpHttpRequest> make_request(const Lane& lane, std::string body) const {
    auto request = std::make_shared<OtlpHttpRequest>(http::verb::post, lane.client->url().target, 11);
    request->set(http::field::host, lane.client->url().host_header());
    request->set(http::field::user_agent, "porthole-sidecar/" PORTHOLE_VERSION);
    request->set(http::field::content_type, config_.content_type());
    if (config_.compression == OtlpExporterConfig::Compression::Gzip) {
      request->set(http::field::content_encoding, "gzip");
    }
    for (const auto& [name, value] : config_.headers) request->set(name, value);
    request->keep_alive(true);
    request->body() = std::move(body);
    request->prepare_payload();
    return request;
  }

  bool refuse(Lane& lane, std::string_view reason, std::uint64_t items) {
    metrics_.dropped(lane.signal, reason, items);
    if (reason == kDropBufferFull) warn_buffer_full(lane);
    return false;
  }

  void pump(Lane& lane) {
    if (lane.in_flight || lane.retry_timer->armed() || lane.queue.empty()) return;
    attempt(lane);
  }

  void attempt(Lane& lane) {
    auto& front = lane.queue.front();
    const auto now = time_.now();
    if (!front.first_attempt) front.first_attempt = now;
    lane.in_flight = true;
    lane.attempt_started = now;
    lane.client->send(front.request, [this, &lane](CollectorResponse response) { on_response(lane, std::move(response)); });
  }

  void on_response(Lane& lane, CollectorResponse response) {
    lane.in_flight = false;
    if (response.stale_connection && !lane.resent_on_fresh_connection) {
      lane.resent_on_fresh_connection = true;
      attempt(lane);
      return;
    }
    lane.resent_on_fresh_connection = false;
    const double seconds = seconds_between(lane.attempt_started, time_.now());
    const auto signal_name = to_string(lane.signal);
    if (response.error) {
      metrics_.attempt(lane.signal, response.timed_out ? kOutcomeTimeout : kOutcomeConnectionError, seconds);
      log_->debug("exporting {} to {} failed: {}", signal_name, lane.url_text, response.error.message());
      retry(lane, std::nullopt, response.error.message());
      return;
    }
    const unsigned status = response.status;
    if (status >= 200 && status < 300) {
      metrics_.attempt(lane.signal, kOutcomeSuccess, seconds);
      metrics_.exported(lane.signal, lane.queue.front().items);
      if (options_.on_response) options_.on_response(lane.signal, status, response.body);
      finish_front(lane);
      return;
    }
    if (is_retryable_status(status)) {
      metrics_.attempt(lane.signal, kOutcomeRetryableStatus, seconds);
      std::optional<Duration> hint;
      if (!response.retry_after.empty()) hint = parse_retry_after(response.retry_after, time_.system_now());
      log_->debug("collector answered {} for {} at {}", status, signal_name, lane.url_text);
      retry(lane, hint, "HTTP " + std::to_string(status));
      return;
    }
    metrics_.attempt(lane.signal, kOutcomeRejected, seconds);
    log_->warn("collector at {} rejected a {} request with HTTP {} ({} items dropped, not retried): {}", lane.url_text,
               signal_name, status, lane.queue.front().items, sanitise_for_log(response.body));
    drop_front(lane, rejection_reason(status));
  }

  // `hint` is the collector's Retry-After. OTLP/HTTP says to honour it, so a positive one
  // replaces our backoff exactly, even beyond max_backoff; "0" (or a past date) asks for nothing
  // in particular and gets our own backoff, so a collector cannot make us spin. Waiting past the
  // request's retry budget (max_elapsed from its first attempt) would only end in a drop, so
  // such a wait is not started: the request is given up at once. parse_retry_after saturates
  // absurd values at a year, far beyond any budget (max_elapsed is at most 24 h).
  void retry(Lane& lane, std::optional<Duration> hint, const std::string& why) {
    if (shutting_down_) return drop_front(lane, kDropShutdown);
    const bool honour_hint = hint && *hint > Duration::zero();
    const Duration delay = honour_hint ? *hint : lane.backoff->next();
    const auto& front = lane.queue.front();
    const MonoTime now = time_.now();
    const Duration elapsed = now - *front.first_attempt;
    if (elapsed + delay > config_.max_elapsed) {
      if (honour_hint) {
        log_->warn("giving up on a {} request to {} after {} ({}): the collector asks to retry after {}, beyond "
                   "max_elapsed ({}); {} items dropped",
                   to_string(lane.signal), lane.url_text, format_duration(elapsed), why, format_duration(delay),
                   format_duration(config_.max_elapsed), front.items);
      } else {
        log_->warn("giving up on a {} request to {} after {} ({}; {} items dropped)", to_string(lane.signal),
                   lane.url_text, format_duration(elapsed), why, front.items);
      }
      return drop_front(lane, kDropRetryExpired);
    }
    metrics_.retry(lane.signal);
    lane.retry_timer->arm(delay, [this, &lane] { attempt(lane); });
  }

  void drop_front(Lane& lane, std::string_view reason) {
    metrics_.dropped(lane.signal, reason, lane.queue.front().items);
    finish_front(lane);
  }

  void finish_front(Lane& lane) {
    const auto& front = lane.queue.front();
    queued_bytes_ -= front.bytes;
    --queued_requests_;
    lane.queue.pop_front();
    lane.backoff->reset();
    metrics_.queue(queued_bytes_, queued_requests_);
    pump(lane);
    maybe_finish_shutdown();
  }

  void drop_everything() {
    for (auto& lane : lanes_) {
      if (lane.client) lane.client->close();
      lane.retry_timer->cancel();
      lane.in_flight = false;
      std::uint64_t items = 0;
      for (const auto& p : lane.queue) items += p.items;
      if (!lane.queue.empty()) {
        log_->warn("shutdown deadline passed: dropping {} queued {} requests ({} items)", lane.queue.size(),
                   to_string(lane.signal), items);
      }
      metrics_.dropped(lane.signal, kDropShutdown, items);
      lane.queue.clear();
    }
    queued_bytes_ = 0;
    queued_requests_ = 0;
    metrics_.queue(0, 0);
    maybe_finish_shutdown();
  }

  void maybe_finish_shutdown() {
    if (!shutting_down_ || !shutdown_done_ || queued_requests_ != 0) return;
    shutdown_timer_->cancel();
    boost::asio::post(executor_, std::move(shutdown_done_));
    shutdown_done_ = nullptr;
  }

  // A full buffer can drop thousands of requests a second: one warning per interval.
  void warn_buffer_full(const Lane& lane) {
    const auto requests = buffer_full_warnings_.add(1, time_.now());
    if (requests == 0) return;
    log_->warn("export buffer full ({} requests, {} bytes queued): dropped {} request(s) since the last warning, "
               "latest for {}",
               queued_requests_, queued_bytes_, requests, to_string(lane.signal));
  }

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  OtlpExporterConfig config_;
  Options options_;
  OtlpExporterMetrics metrics_;
  std::array<Lane, kOtlpSignals.size()> lanes_;
  std::uint64_t queued_bytes_ = 0;
  std::uint64_t queued_requests_ = 0;
  bool shutting_down_ = false;
  std::function<void()> shutdown_done_;
  std::unique_ptr<Timer> shutdown_timer_;
  WarningLimiter buffer_full_warnings_;
  std::shared_ptr<spdlog::logger> log_;
};

OtlpHttpExporter::OtlpHttpExporter(boost::asio::any_io_executor executor, TimeSource& time,
                                   prometheus::Registry& registry, OtlpExporterConfig config, Options options)
    : impl_(std::make_unique<Impl>(std::move(executor), time, registry, std::move(config), std::move(options))) {}

OtlpHttpExporter::OtlpHttpExporter(boost::asio::any_io_executor executor, TimeSource& time,
                                   prometheus::Registry& registry, OtlpExporterConfig config)
    : OtlpHttpExporter(std::move(executor), time, registry, std::move(config), Options{}) {}

OtlpHttpExporter::~OtlpHttpExporter() = default;

bool OtlpHttpExporter::enqueue(OtlpSignal signal, std::string body, std::uint64_t items) {
  return impl_->enqueue(signal, std::move(body), items);
}
void OtlpHttpExporter::shutdown(Duration deadline, std::function<void()> done) {
  impl_->shutdown(deadline, std::move(done));
}
std::uint64_t OtlpHttpExporter::queued_bytes() const { return impl_->queued_bytes(); }
std::uint64_t OtlpHttpExporter::queued_requests() const { return impl_->queued_requests(); }
bool OtlpHttpExporter::idle() const { return impl_->idle(); }
bool OtlpHttpExporter::waiting_to_retry(OtlpSignal signal) const { return impl_->waiting_to_retry(signal); }

}  // namespace porthole::telemetry

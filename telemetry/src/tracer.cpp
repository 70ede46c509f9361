#include "porthole/telemetry/tracer.hpp"

#include <utility>

#include "porthole/telemetry/id_generator.hpp"

namespace porthole::telemetry {

ScopedSpan::ScopedSpan(ScopedSpan&& other) noexcept
    : tracer_(std::exchange(other.tracer_, nullptr)),
      context_(std::move(other.context_)),
      span_(std::move(other.span_)) {}

ScopedSpan& ScopedSpan::operator=(ScopedSpan&& other) noexcept {
  if (this != &other) {
    end();
    tracer_ = std::exchange(other.tracer_, nullptr);
    context_ = std::move(other.context_);
    span_ = std::move(other.span_);
  }
  return *this;
}

ScopedSpan& ScopedSpan::set_attribute(std::string key, AnyValue value) {
  if (tracer_ == nullptr) return *this;
  for (auto& kv : span_.attributes) {
    if (kv.key == key) {  // OpenTelemetry: setting an existing key replaces its value
      kv.value = std::move(value);
      return *this;
    }
  }
  if (span_.attributes.capacity() == 0) span_.attributes.reserve(8);  // one allocation, not 1-2-4-8
  span_.attributes.push_back(KeyValue{std::move(key), std::move(value)});
  return *this;
}

ScopedSpan& ScopedSpan::add_event(std::string name, Attributes attributes) {
  if (tracer_ == nullptr) return *this;
  span_.events.push_back(SpanEvent{tracer_->now_unix_nano(), std::move(name), std::move(attributes), 0});
  return *this;
}

ScopedSpan& ScopedSpan::add_link(const SpanContext& linked, Attributes attributes) {
  if (tracer_ == nullptr || !linked.valid()) return *this;
  span_.links.push_back(SpanLink{linked.trace_id, linked.span_id, linked.trace_state,
                                 std::move(attributes), 0, linked.trace_flags});
  return *this;
}

ScopedSpan& ScopedSpan::set_status(StatusCode code, std::string message) {
  if (tracer_ == nullptr) return *this;
  // OpenTelemetry: Ok is final; a description is only kept for Error.
  if (span_.status.code == static_cast<std::int32_t>(StatusCode::Ok)) return *this;
  if (code == StatusCode::Unset) return *this;
  span_.status.code = static_cast<std::int32_t>(code);
  span_.status.message = code == StatusCode::Error ? std::move(message) : std::string();
  return *this;
}

ScopedSpan& ScopedSpan::set_name(std::string name) {
  if (tracer_ != nullptr) span_.name = std::move(name);
  return *this;
}

void ScopedSpan::end() {
  Tracer* tracer = std::exchange(tracer_, nullptr);
  if (tracer == nullptr) return;
  span_.end_time_unix_nano = tracer->now_unix_nano();
  tracer->finish(std::move(span_));
}

Tracer::Tracer(std::shared_ptr<const ItemOrigin> origin, SpanProcessor& processor, const TimeSource& time)
    : origin_(std::move(origin)), processor_(processor), time_(time) {}

std::uint64_t Tracer::now_unix_nano() const {
  const auto since_epoch = time_.system_now().time_since_epoch();
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
}

void Tracer::finish(Span&& span) { processor_.submit(SpanItem{origin_, std::move(span)}); }

ScopedSpan Tracer::start_span(std::string name, SpanKind kind, const SpanContext& parent) {
  ScopedSpan s;
  s.context_.span_id = random_span_id();
  if (parent.valid()) {
    s.context_.trace_id = parent.trace_id;
    s.context_.trace_flags = parent.trace_flags;
    s.context_.trace_state = parent.trace_state;
    if (!parent.sampled()) return s;  // parent-based sampling: not recorded, still propagated
    s.span_.parent_span_id = parent.span_id;
  } else {
    s.context_.trace_id = random_trace_id();
    s.context_.trace_flags = 0x01;
  }
  s.tracer_ = this;
  s.span_.trace_id = s.context_.trace_id;
  s.span_.span_id = s.context_.span_id;
  s.span_.trace_state = s.context_.trace_state;
  // OTLP span flags: W3C trace flags in bits 0-7; bit 8 says bit 9 is known, bit 9 says the
  // parent is remote.
  s.span_.flags = s.context_.trace_flags | 0x100u | (parent.valid() && parent.remote ? 0x200u : 0u);
  s.span_.name = std::move(name);
  s.span_.kind = static_cast<std::int32_t>(kind);
  s.span_.start_time_unix_nano = now_unix_nano();
  return s;
}

}  // namespace porthole::telemetry

// A small tracing API for the agent's own spans (ingress, egress, storage) and for C++ workloads
// that link porthole_telemetry: start a span, add attributes/events/status, end it, and the
// finished span goes to a SpanProcessor (normally a BatchProcessor<SpanItem>).
//
// Sampling is parent-based with an always-on root: a span whose parent context is valid but not
// sampled is a non-recording span (cheap: no clock reads, nothing submitted) that still carries
// the parent's trace id and a fresh span id, so traceparent propagation keeps working.
//
// Cost: one start+end of a span with a few attributes is measured by porthole-span-bench
// (bench/telemetry/span_api_bench.cpp); the target is <= 500 ns.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "porthole/common/time.hpp"
#include "porthole/telemetry/item_sink.hpp"
#include "porthole/telemetry/otlp_model.hpp"
#include "porthole/telemetry/trace_context.hpp"

namespace porthole::telemetry {

class Tracer;

// A span being recorded. Move-only; ends (and is submitted) on destruction unless end() was
// called already. Not thread-safe: one span belongs to one thread at a time.
class ScopedSpan {
 public:
  ScopedSpan() = default;  // an inert span: every call is a no-op
  ScopedSpan(ScopedSpan&& other) noexcept;
  ScopedSpan& operator=(ScopedSpan&& other) noexcept;
  ScopedSpan(const ScopedSpan&) = delete;
  ScopedSpan& operator=(const ScopedSpan&) = delete;
  ~ScopedSpan() { end(); }

  bool recording() const { return tracer_ != nullptr; }
  // Valid even when not recording (if there was a valid parent or the span is a root).
  const SpanContext& context() const { return context_; }
  // The header to send downstream so the next hop becomes this span's child.
  std::string traceparent() const { return format_traceparent(context_); }

  ScopedSpan& set_attribute(std::string key, AnyValue value);
  ScopedSpan& add_event(std::string name, Attributes attributes = {});
  ScopedSpan& add_link(const SpanContext& linked, Attributes attributes = {});
  ScopedSpan& set_status(StatusCode code, std::string message = {});
  ScopedSpan& set_name(std::string name);

  // Records the end time and submits the span; later calls do nothing.
  void end();

 private:
  friend class Tracer;
  Tracer* tracer_ = nullptr;  // null: not recording, or already ended
  SpanContext context_;
  Span span_;
};

class Tracer {
 public:
  // `origin` is the resource (service.name, ...) and instrumentation scope of every span this
  // tracer starts. `time` provides span timestamps (system_now()). Both `time` and `processor`
  // must outlive the tracer and every span it started. Thread-safe.
  Tracer(std::shared_ptr<const ItemOrigin> origin, SpanProcessor& processor, const TimeSource& time);

  // Starts a root span, or a child of `parent` when it is valid (a remote context from
  // parse_traceparent, or a local span's context()).
  ScopedSpan start_span(std::string name, SpanKind kind = SpanKind::Internal,
                        const SpanContext& parent = {});
  ScopedSpan start_child(std::string name, const ScopedSpan& parent,
                         SpanKind kind = SpanKind::Internal) {
    return start_span(std::move(name), kind, parent.context());
  }

  const std::shared_ptr<const ItemOrigin>& origin() const { return origin_; }

 private:
  friend class ScopedSpan;
  std::uint64_t now_unix_nano() const;
  void finish(Span&& span);

  std::shared_ptr<const ItemOrigin> origin_;
  SpanProcessor& processor_;
  const TimeSource& time_;
};

}  // namespace porthole::telemetry

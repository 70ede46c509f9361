// The tracing API: ids, parents from traceparent or local spans, parent-based sampling,
// attributes/events/status semantics, RAII end, and what reaches the SpanProcessor.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "porthole/common/manual_time.hpp"
#include "porthole/telemetry/id_generator.hpp"
#include "porthole/telemetry/tracer.hpp"

namespace porthole::telemetry {
namespace {

class CapturingProcessor final : public SpanProcessor {
 public:
  bool submit(SpanItem&& item) override {
    items.push_back(std::move(item));
    return true;
  }
  std::vector<SpanItem> items;
};

class TracerTest : public ::testing::Test {
 protected:
  ManualTimeSource time{MonoTime{} + std::chrono::seconds(1'700'000'000)};
  CapturingProcessor processor;
  std::shared_ptr<const ItemOrigin> origin = std::make_shared<const ItemOrigin>(
      ItemOrigin{Resource{{{"service.name", AnyValue("agent")}}, 0}, "", InstrumentationScope{"porthole", "0.1", {}, 0}, ""});
  Tracer tracer{origin, processor, time};
};

TEST_F(TracerTest, RootSpanGetsFreshIdsTimesAndEndsOnScopeExit) {
  {
    auto span = tracer.start_span("ingress", SpanKind::Server);
    EXPECT_TRUE(span.recording());
    EXPECT_TRUE(span.context().valid());
    EXPECT_TRUE(span.context().sampled());
    span.set_attribute("http.request.method", "GET").set_attribute("http.response.status_code", 200);
    time.advance(std::chrono::milliseconds(3));
  }
  ASSERT_EQ(processor.items.size(), 1u);
  const auto& item = processor.items[0];
  EXPECT_EQ(item.origin, origin);
  const Span& s = item.span;
  EXPECT_EQ(s.name, "ingress");
  EXPECT_EQ(s.kind, 2);
  EXPECT_FALSE(s.parent_span_id.valid());
  EXPECT_EQ(s.start_time_unix_nano, 1'700'000'000'000'000'000ULL);
  EXPECT_EQ(s.end_time_unix_nano - s.start_time_unix_nano, 3'000'000u);
  EXPECT_EQ(s.flags, 0x101u);
  ASSERT_EQ(s.attributes.size(), 2u);
  EXPECT_EQ(std::get<std::int64_t>(s.attributes[1].value.value), 200);
}

TEST_F(TracerTest, ChildOfARemoteParentKeepsTraceIdAndTraceState) {
  SpanContext parent;
  std::string error;
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", parent, error));
  parent.trace_state = "rojo=1";
  auto span = tracer.start_span("child", SpanKind::Server, parent);
  EXPECT_EQ(span.context().trace_id, parent.trace_id);
  EXPECT_NE(span.context().span_id, parent.span_id);
  EXPECT_EQ(span.traceparent().substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  span.end();
  span.end();  // idempotent
  ASSERT_EQ(processor.items.size(), 1u);
  const Span& s = processor.items[0].span;
  EXPECT_EQ(s.parent_span_id, parent.span_id);
  EXPECT_EQ(s.trace_state, "rojo=1");
  EXPECT_EQ(s.flags, 0x301u);  // sampled, remote parent known and true
}

TEST_F(TracerTest, ChildOfALocalSpan) {
  auto parent = tracer.start_span("parent");
  auto child = tracer.start_child("child", parent, SpanKind::Client);
  child.end();
  parent.end();
  ASSERT_EQ(processor.items.size(), 2u);
  EXPECT_EQ(processor.items[0].span.parent_span_id, processor.items[1].span.span_id);
  EXPECT_EQ(processor.items[0].span.trace_id, processor.items[1].span.trace_id);
  EXPECT_EQ(processor.items[0].span.flags, 0x101u);  // parent not remote
}

TEST_F(TracerTest, UnsampledParentGivesANonRecordingSpanThatStillPropagates) {
  SpanContext parent;
  std::string error;
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", parent, error));
  {
    auto span = tracer.start_span("ignored", SpanKind::Server, parent);
    EXPECT_FALSE(span.recording());
    span.set_attribute("a", 1).add_event("e").set_status(StatusCode::Error, "x");
    EXPECT_EQ(span.traceparent().substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
    EXPECT_EQ(span.traceparent().substr(53), "00");
  }
  EXPECT_TRUE(processor.items.empty());
}

TEST_F(TracerTest, AttributeEventLinkAndStatusSemantics) {
  auto span = tracer.start_span("s");
  span.set_attribute("k", 1).set_attribute("k", "replaced");
  time.advance(std::chrono::microseconds(5));
  span.add_event("retry", {{"attempt", AnyValue(2)}});
  SpanContext other;
  other.trace_id = random_trace_id();
  other.span_id = random_span_id();
  span.add_link(other).add_link(SpanContext{});  // an invalid context is ignored
  span.set_status(StatusCode::Ok, "ignored description");
  span.set_status(StatusCode::Error, "too late: Ok is final");
  span.set_name("renamed");
  span.end();
  const Span& s = processor.items.at(0).span;
  ASSERT_EQ(s.attributes.size(), 1u);
  EXPECT_EQ(std::get<std::string>(s.attributes[0].value.value), "replaced");
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].time_unix_nano - s.start_time_unix_nano, 5000u);
  ASSERT_EQ(s.links.size(), 1u);
  EXPECT_EQ(s.links[0].span_id, other.span_id);
  EXPECT_EQ(s.status.code, 1);
  EXPECT_EQ(s.status.message, "");
  EXPECT_EQ(s.name, "renamed");
}

TEST_F(TracerTest, MovedSpanEndsOnce) {
  ScopedSpan outer;
  {
    auto span = tracer.start_span("moved");
    outer = std::move(span);
  }
  EXPECT_TRUE(processor.items.empty());
  outer = tracer.start_span("second");  // ends "moved"
  ASSERT_EQ(processor.items.size(), 1u);
  EXPECT_EQ(processor.items[0].span.name, "moved");
  outer.end();
  EXPECT_EQ(processor.items.size(), 2u);
}

TEST(IdGenerator, IdsAreNonZeroAndDistinctAcrossThreads) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const auto id = random_span_id();
    ASSERT_TRUE(id.valid());
    seen.insert(id.hex());
  }
  EXPECT_EQ(seen.size(), 10000u);
  TraceId other_thread;
  std::thread([&] { other_thread = random_trace_id(); }).join();
  EXPECT_TRUE(other_thread.valid());
  EXPECT_NE(other_thread, random_trace_id());
}

}  // namespace
}  // namespace porthole::telemetry

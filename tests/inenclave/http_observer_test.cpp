// HttpObserver: HTTP/1.1 heads parsed as bytes pass, server spans, traceparent injection, and
// falling back to plain bytes whenever it cannot follow.
#include "porthole/agent/http_observer.hpp"

#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include "porthole/common/manual_time.hpp"

namespace porthole::agent {
namespace {

using telemetry::AnyValue;

class Collect final : public telemetry::SpanProcessor {
 public:
  bool submit(telemetry::SpanItem&& item) override {
    spans.push_back(std::move(item));
    return true;
  }
  std::vector<telemetry::SpanItem> spans;
};

const AnyValue* attribute(const telemetry::Span& s, std::string_view key) {
  for (const auto& kv : s.attributes) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

// The traceparent that makes a request a child of span `s` (sampled).
std::string traceparent_of(const telemetry::Span& s) {
  telemetry::SpanContext c;
  c.trace_id = s.trace_id;
  c.span_id = s.span_id;
  c.trace_flags = 1;
  return telemetry::format_traceparent(c);
}

std::string str(const AnyValue* v) {
  if (!v) return "<absent>";
  if (auto s = std::get_if<std::string>(&v->value)) return *s;
  if (auto i = std::get_if<std::int64_t>(&v->value)) return std::to_string(*i);
  return "<other>";
}

class HttpObserverTest : public ::testing::Test {
 protected:
  HttpObserverTest()
      : tracer_(std::make_shared<telemetry::ItemOrigin>(), spans_, time_),
        metrics_(registry_),
        route_(metrics_.route("web")),
        routes_({"/users/{id}", "/static/*"}) {}

  std::unique_ptr<HttpObserver> make(HttpObserverOptions o = {}) {
    return std::make_unique<HttpObserver>(tracer_, routes_, route_, time_, o);
  }
  // Feeds `data` in pieces of `step` bytes; returns what the other end gets.
  static std::string feed(HttpObserver& o, bool upstream, std::string_view data, std::size_t step) {
    std::string out;
    for (std::size_t i = 0; i < data.size(); i += step) o.on_bytes(upstream, data.substr(i, step), out);
    return out;
  }
  double counter(const std::string& name, const std::map<std::string, std::string>& labels) {
    for (const auto& f : registry_.Collect()) {
      if (f.name != name) continue;
      for (const auto& m : f.metric) {
        std::size_t hits = 0;
        for (const auto& l : m.label) {
          auto it = labels.find(l.name);
          if (it != labels.end() && it->second == l.value) ++hits;
        }
        if (hits == labels.size()) return m.counter.value;
      }
    }
    return -1;
  }
  static std::string traceparent_in(const std::string& head) {
    const auto at = head.find("traceparent: ");
    if (at == std::string::npos) return "";
    return head.substr(at + 13, head.find("\r\n", at) - at - 13);
  }

  ManualTimeSource time_;
  Collect spans_;
  telemetry::Tracer tracer_;
  prometheus::Registry registry_;
  HttpMetrics metrics_;
  HttpMetrics::Route& route_;
  RouteTemplates routes_;
};

const std::string kRequest = "GET /users/42?token=secret HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\n\r\nhello";
const std::string kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST_F(HttpObserverTest, RecordsOneServerSpanPerRequestWhateverTheChunking) {
  for (std::size_t step : {1u, 3u, 7u, 1000u}) {
    spans_.spans.clear();
    auto o = make();
    const auto up = feed(*o, true, kRequest, step);
    const auto down = feed(*o, false, kResponse, step);
    EXPECT_EQ(down, kResponse);
    // The workload gets the request with our traceparent added, and nothing else changed.
    const auto tp = traceparent_in(up);
    ASSERT_EQ(tp.size(), 55u) << up;
    std::string expected = kRequest;
    expected.insert(expected.find("\r\n\r\n") + 2, "traceparent: " + tp + "\r\n");
    EXPECT_EQ(up, expected);
    ASSERT_EQ(spans_.spans.size(), 1u) << "step " << step;
    const auto& s = spans_.spans[0].span;
    EXPECT_EQ(s.name, "GET /users/{id}");
    EXPECT_EQ(s.kind, static_cast<std::int32_t>(telemetry::SpanKind::Server));
    EXPECT_EQ(str(attribute(s, "http.request.method")), "GET");
    EXPECT_EQ(str(attribute(s, "http.route")), "/users/{id}");
    EXPECT_EQ(str(attribute(s, "url.path")), "/users/42");  // never the query
    EXPECT_EQ(str(attribute(s, "http.response.status_code")), "200");
    EXPECT_EQ(traceparent_of(s), tp);
    EXPECT_TRUE(o->observing());
  }
  EXPECT_EQ(counter("porthole_http_requests_total", {{"listener", "web"}, {"method", "GET"}, {"status_class", "2xx"}}),
            4);
}

TEST_F(HttpObserverTest, TheClientsTraceparentBecomesTheParentAndIsReplaced) {
  const std::string incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto o = make();
  const auto up = feed(*o, true,
                       "POST /x HTTP/1.1\r\nTraceParent: " + incoming +
                           "\r\ntracestate: congo=t61rcWkgMzE\r\nContent-Length: 0\r\n\r\n",
                       1000);
  feed(*o, false, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", 1000);
  EXPECT_EQ(up.find(incoming), std::string::npos) << up;        // replaced...
  EXPECT_NE(up.find("tracestate: congo=t61rcWkgMzE\r\n"), std::string::npos);  // ...tracestate kept
  ASSERT_EQ(spans_.spans.size(), 1u);
  const auto& s = spans_.spans[0].span;
  telemetry::SpanContext parent;
  std::string error;
  ASSERT_TRUE(telemetry::parse_traceparent(incoming, parent, error));
  EXPECT_EQ(s.trace_id, parent.trace_id);
  EXPECT_EQ(s.parent_span_id, parent.span_id);
  EXPECT_EQ(traceparent_in(up), traceparent_of(s));
  EXPECT_EQ(s.name, "POST");  // no template matches: no path in the name
  EXPECT_EQ(s.status.code, static_cast<std::int32_t>(telemetry::StatusCode::Error));  // 5xx is a server error
  EXPECT_EQ(str(attribute(s, "error.type")), "503");
}

TEST_F(HttpObserverTest, PipelinedRequestsAndChunkedResponsesMatchInOrder) {
  auto o = make();
  const std::string two = "GET /a HTTP/1.1\r\n\r\nHEAD /static/x/y HTTP/1.1\r\n\r\n";
  feed(*o, true, two, 1000);
  const std::string r1 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  const std::string r2 = "HTTP/1.1 404 No\r\nContent-Length: 9\r\n\r\n";  // HEAD: no body follows
  EXPECT_EQ(feed(*o, false, r1 + r2, 5), r1 + r2);
  ASSERT_EQ(spans_.spans.size(), 2u);
  EXPECT_EQ(spans_.spans[0].span.name, "GET");
  EXPECT_EQ(str(attribute(spans_.spans[0].span, "http.response.status_code")), "200");
  EXPECT_EQ(spans_.spans[1].span.name, "HEAD /static/*");
  EXPECT_EQ(str(attribute(spans_.spans[1].span, "http.response.status_code")), "404");
  EXPECT_TRUE(o->observing());
}

TEST_F(HttpObserverTest, AnInterimResponseDoesNotEndTheRequest) {
  auto o = make();
  feed(*o, true, "PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 1000);
  feed(*o, false, "HTTP/1.1 100 Continue\r\n\r\n", 1000);
  EXPECT_TRUE(spans_.spans.empty());
  feed(*o, true, "abc", 1000);
  feed(*o, false, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 1000);
  ASSERT_EQ(spans_.spans.size(), 1u);
  EXPECT_EQ(str(attribute(spans_.spans[0].span, "http.response.status_code")), "201");
}

TEST_F(HttpObserverTest, MalformedHttpIsRelayedUnchangedAndCounted) {
  auto o = make();
  const std::string junk = "\x16\x03\x01\x02\x00 this is TLS, not HTTP\r\n\r\n";
  EXPECT_EQ(feed(*o, true, junk, 4), junk);
  EXPECT_FALSE(o->observing());
  EXPECT_EQ(feed(*o, false, "anything", 3), "anything");
  EXPECT_EQ(counter("porthole_http_unobserved_connections_total", {{"listener", "web"}, {"reason", "parse_error"}}),
            1);
}

TEST_F(HttpObserverTest, AHeadBeyondTheLimitIsRelayedUnchanged) {
  auto o = make({1024, 32});
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n";
  EXPECT_EQ(feed(*o, true, big, 100), big);
  EXPECT_FALSE(o->observing());
  EXPECT_EQ(counter("porthole_http_unobserved_connections_total", {{"listener", "web"}, {"reason", "head_too_large"}}),
            1);
}

TEST_F(HttpObserverTest, AnUpgradeEndsTheSpanAndTheRestFlowsAsItIs) {
  auto o = make();
  feed(*o, true, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 1000);
  const std::string switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
  EXPECT_EQ(feed(*o, false, switching, 1000), switching);
  ASSERT_EQ(spans_.spans.size(), 1u);
  EXPECT_EQ(str(attribute(spans_.spans[0].span, "http.response.status_code")), "101");
  EXPECT_EQ(feed(*o, true, "\x81\x02yo", 1000), "\x81\x02yo");
  EXPECT_FALSE(o->observing());
}

TEST_F(HttpObserverTest, AConnectionThatEndsBeforeTheResponseEndsTheSpanAsAnError) {
  auto o = make();
  feed(*o, true, "GET /slow HTTP/1.1\r\n\r\n", 1000);
  o->on_end(relay::RelayResult{relay::RelayEnd::Reset});
  ASSERT_EQ(spans_.spans.size(), 1u);
  EXPECT_EQ(spans_.spans[0].span.status.code, static_cast<std::int32_t>(telemetry::StatusCode::Error));
  EXPECT_EQ(str(attribute(spans_.spans[0].span, "error.type")), "reset");
  EXPECT_EQ(counter("porthole_http_requests_total", {{"listener", "web"}, {"method", "GET"}, {"status_class", "none"}}),
            1);
}

TEST_F(HttpObserverTest, AResponseDelimitedByTheEndOfTheConnectionCompletesThere) {
  auto o = make();
  feed(*o, true, "GET / HTTP/1.0\r\n\r\n", 1000);
  feed(*o, false, "HTTP/1.0 200 OK\r\n\r\nbody until close", 1000);
  EXPECT_TRUE(spans_.spans.empty());
  o->on_end(relay::RelayResult{relay::RelayEnd::Closed});
  ASSERT_EQ(spans_.spans.size(), 1u);
  EXPECT_EQ(str(attribute(spans_.spans[0].span, "http.response.status_code")), "200");
  EXPECT_EQ(spans_.spans[0].span.status.code, static_cast<std::int32_t>(telemetry::StatusCode::Unset));
}

// A client that sends half a head and half-closes: the workload still gets every byte it sent, and
// a response's incomplete head likewise reaches the client.
TEST_F(HttpObserverTest, AnIncompleteHeadHeldBackIsDeliveredAtEndOfStream) {
  auto o = make();
  const std::string partial = "GET /users/42 HTTP/1.1\r\nHost: ap";
  EXPECT_EQ(feed(*o, true, partial, 7), "");  // held until the head is complete
  std::string out;
  o->on_eof(true, out);
  EXPECT_EQ(out, partial);
  out.clear();
  o->on_eof(true, out);  // nothing is delivered twice
  EXPECT_EQ(out, "");
  auto p = make();
  feed(*p, true, "GET / HTTP/1.1\r\n\r\n", 1000);
  EXPECT_EQ(feed(*p, false, "HTTP/1.1 200 O", 1000), "");
  p->on_eof(false, out);
  EXPECT_EQ(out, "HTTP/1.1 200 O");
}

TEST_F(HttpObserverTest, TooManyPipelinedRequestsStopObservation) {
  auto o = make({64 * 1024, 2});
  std::string many;
  for (int i = 0; i < 5; ++i) many += "GET / HTTP/1.1\r\n\r\n";
  const auto up = feed(*o, true, many, 1000);
  EXPECT_FALSE(o->observing());
  EXPECT_EQ(counter("porthole_http_unobserved_connections_total", {{"listener", "web"}, {"reason", "pipeline_limit"}}),
            1);
  // Two were observed (and carry our traceparent); the rest pass unchanged.
  std::size_t n = 0;
  for (auto at = up.find("traceparent:"); at != std::string::npos; at = up.find("traceparent:", at + 1)) ++n;
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(up.size(), many.size() + 2 * (13 + 55 + 2));
}

TEST(RouteTemplates, MatchAndValidate) {
  RouteTemplates t({"/users/{id}/orders", "/static/*", "/"});
  EXPECT_EQ(t.match("/users/7/orders"), "/users/{id}/orders");
  EXPECT_EQ(t.match("/users/7"), "");
  EXPECT_EQ(t.match("/static/a/b.css"), "/static/*");
  EXPECT_EQ(t.match("/"), "/");
  EXPECT_EQ(RouteTemplates::validate("/a/{b}"), "");
  EXPECT_NE(RouteTemplates::validate("a/b"), "");
  EXPECT_NE(RouteTemplates::validate("/a/*/b"), "");
  EXPECT_NE(RouteTemplates::validate("/a?x=1"), "");
}

}  // namespace
}  // namespace porthole::agent

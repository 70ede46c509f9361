// CPU cost per span of each stage the agent runs on a workload's OTLP request, and of the
// sidecar's validation, measured in-process so that the machine's noise (and the HTTP and vsock
// I/O, which bench/telemetry/telemetry_bench.py measures end to end) stays out:
//   decode   ExportTraceServiceRequest (protobuf) -> TraceBatch        agent
//   policy   apply_policy(default policy)                              agent
//   split    TraceBatch -> queued SpanItems                            agent
//   encode   items -> the channel's ExportTraceServiceRequest          agent
//   validate the sidecar's decode of that request                      sidecar
// The request is the one telemetry_bench.py sends: 512 server spans, 6 attributes each of which
// 2 are not allowed by the default policy. Prints JSON lines (bench/README.md); the per-span
// figures are the thread's CPU time, median of `rounds` rounds.
// Usage: porthole-telemetry-pipeline-bench [requests_per_round=200] [rounds=7]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "porthole/common/allocator.hpp"
#include "porthole/telemetry/otlp_proto.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace {

using namespace porthole::telemetry;

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

std::string make_request(std::size_t spans) {
  TraceBatch batch;
  auto& rs = batch.resource_spans.emplace_back();
  rs.resource.attributes.push_back({"service.name", AnyValue("bench")});
  auto& ss = rs.scope_spans.emplace_back();
  ss.scope.name = "bench";
  for (std::size_t i = 0; i < spans; ++i) {
    Span& s = ss.spans.emplace_back();
    s.trace_id.bytes[15] = static_cast<std::uint8_t>(i / 4 + 1);
    s.trace_id.bytes[0] = 0x12;
    for (int b = 0; b < 8; ++b) s.span_id.bytes[b] = static_cast<std::uint8_t>((i + 1) >> (8 * (7 - b)));
    if (i % 4) s.parent_span_id.bytes[7] = static_cast<std::uint8_t>(i);
    s.name = "GET /items/:id";
    s.kind = static_cast<std::int32_t>(SpanKind::Server);
    s.start_time_unix_nano = 1'700'000'000'000'000'000ull + i;
    s.end_time_unix_nano = s.start_time_unix_nano + 100'000;
    s.attributes = {{"http.request.method", AnyValue("GET")},
                    {"http.route", AnyValue("/items/:id")},
                    {"server.address", AnyValue("shop.example")},
                    {"network.protocol.version", AnyValue("1.1")},
                    {"url.full", AnyValue("https://shop.example/items/7?token=x")},
                    {"user_agent.original", AnyValue("curl/8")}};
  }
  return encode_trace_request(batch);
}

void print(const char* metric, double ns_per_span, const char* side) {
  std::printf("{\"bench\":\"telemetry_pipeline\",\"metric\":\"%s\",\"value\":%.1f,\"unit\":\"ns/span\",\"side\":\"%s\","
              "\"peer\":\"none\",\"peer_value\":null,\"ratio\":null}\n",
              metric, ns_per_span, side);
}

}  // namespace

int main(int argc, char** argv) {
  const int requests = argc > 1 ? std::atoi(argv[1]) : 200;
  // As both binaries do (common/allocator.hpp); PORTHOLE_BENCH_DEFAULT_MALLOC=1 shows the difference.
  if (std::getenv("PORTHOLE_BENCH_DEFAULT_MALLOC") == nullptr) porthole::tune_allocator();
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  constexpr std::size_t kSpans = 512;
  const std::string request = make_request(kSpans);
  const TelemetryPolicy policy = default_telemetry_policy();

  enum { kDecode, kPolicy, kSplit, kEncode, kValidate, kStages };
  std::vector<std::vector<double>> ns(kStages);
  std::size_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    double t[kStages] = {};
    for (int q = 0; q < requests; ++q) {
      std::string error;
      double t0 = thread_cpu_ns();
      TraceBatch batch;
      if (!decode_trace_request(request, batch, error)) {
        std::fprintf(stderr, "decode failed: %s\n", error.c_str());
        return 1;
      }
      double t1 = thread_cpu_ns();
      sink += apply_policy(policy, batch).total();
      double t2 = thread_cpu_ns();
      auto items = split_batch(std::move(batch));
      double t3 = thread_cpu_ns();
      std::string wire;
      encode_trace_request(std::span<const SpanItem>(items), wire);
      double t4 = thread_cpu_ns();
      TraceBatch received;
      if (!decode_trace_request(wire, received, error)) return 1;
      double t5 = thread_cpu_ns();
      sink += received.span_count();
      t[kDecode] += t1 - t0;
      t[kPolicy] += t2 - t1;
      t[kSplit] += t3 - t2;
      t[kEncode] += t4 - t3;
      t[kValidate] += t5 - t4;
    }
    for (int s = 0; s < kStages; ++s) ns[s].push_back(t[s] / (static_cast<double>(requests) * kSpans));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double decode = median(ns[kDecode]), pol = median(ns[kPolicy]), split = median(ns[kSplit]),
               encode = median(ns[kEncode]), validate = median(ns[kValidate]);
  print("agent_decode", decode, "enclave");
  print("agent_policy", pol, "enclave");
  print("agent_split", split, "enclave");
  print("agent_encode", encode, "enclave");
  const double agent = decode + pol + split + encode;
  print("agent_total", agent, "enclave");
  std::printf("{\"bench\":\"telemetry_pipeline\",\"metric\":\"agent_spans_per_cpu_second\",\"value\":%.0f,\"unit\":\"spans/s\","
              "\"side\":\"enclave\",\"peer\":\"none\",\"peer_value\":null,\"ratio\":null,"
              "\"note\":\"compute only: decode+policy+split+encode, no I/O, no queue\"}\n",
              1e9 / agent);
  print("sidecar_validate", validate, "parent");
  std::fprintf(stderr, "(checksum %zu)\n", sink);
  return 0;
}

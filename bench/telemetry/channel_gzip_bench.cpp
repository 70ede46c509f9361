// Does gzip pay off on the telemetry channel (agent -> sidecar over vsock)? For a batch of
// realistic spans (the default export batch: 512), measures the OTLP protobuf size, the gzip
// size, and the agent CPU gzip costs per batch (compress) and the sidecar's (decompress), next
// to the cost of encoding the batch at all. Prints JSON lines per bench/README.md; there is no
// peer to compare with (the OpenTelemetry Collector is not packaged for Debian), so `peer` is
// "none" and the ratio compares gzip to no compression.
// Usage: porthole-channel-gzip-bench [spans_per_batch=512] [batches=200]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "porthole/common/allocator.hpp"
#include "porthole/telemetry/gzip.hpp"
#include "porthole/telemetry/otlp_proto.hpp"

namespace {

using namespace porthole::telemetry;
using Clock = std::chrono::steady_clock;

std::vector<SpanItem> make_batch(std::size_t n, std::mt19937_64& rng) {
  auto origin = std::make_shared<const ItemOrigin>(ItemOrigin{
      {{{"service.name", "checkout"}, {"service.version", "1.4.2"}, {"host.name", "enclave-16"}}, 0},
      "",
      {"io.opentelemetry.http", "2.12.1", {}, 0},
      ""});
  const char* routes[] = {"/cart", "/cart/:id", "/checkout", "/items/:id", "/login"};
  const char* methods[] = {"GET", "POST", "PUT"};
  std::vector<SpanItem> items;
  TraceId trace;
  for (std::size_t i = 0; i < n; ++i) {
    SpanItem item{origin, {}};
    auto& s = item.span;
    if (i % 4 == 0) {
      for (auto& b : trace.bytes) b = static_cast<std::uint8_t>(rng());
    }
    s.trace_id = trace;
    for (auto& b : s.span_id.bytes) b = static_cast<std::uint8_t>(rng());
    if (i % 4 != 0) s.parent_span_id = items.back().span.span_id;
    const auto route = routes[rng() % 5];
    s.name = std::string(methods[rng() % 3]) + " " + route;
    s.kind = 2;
    s.start_time_unix_nano = 1'700'000'000'000'000'000ull + i * 1'000'000ull + rng() % 1000;
    s.end_time_unix_nano = s.start_time_unix_nano + 100'000 + rng() % 5'000'000;
    s.attributes = {{"http.request.method", methods[rng() % 3]},
                    {"http.route", route},
                    {"http.response.status_code", static_cast<std::int64_t>(rng() % 10 == 0 ? 500 : 200)},
                    {"server.address", "shop.example"},
                    {"network.protocol.version", "1.1"}};
    items.push_back(std::move(item));
  }
  return items;
}

double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void line(const char* metric, double value, const char* unit) {
  std::printf("{\"bench\":\"telemetry_channel_gzip\",\"metric\":\"%s\",\"value\":%.3f,\"unit\":\"%s\",\"peer\":\"none\",\"peer_value\":null}\n",
              metric, value, unit);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t spans = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
  const int batches = argc > 2 ? std::atoi(argv[2]) : 200;
  porthole::tune_allocator();  // as both binaries do
  std::mt19937_64 rng(42);
  double encode_us = 0, gzip_us = 0, gunzip_us = 0, plain_bytes = 0, gzip_bytes = 0;
  for (int b = 0; b < batches; ++b) {
    auto items = make_batch(spans, rng);
    auto t0 = Clock::now();
    std::string wire;  // as the agent's channel encodes an export (straight from the queued items)
    encode_trace_request(std::span<const SpanItem>(items), wire);
    auto t1 = Clock::now();
    const auto compressed = gzip_compress(wire);
    auto t2 = Clock::now();
    const auto back = gzip_decompress(*compressed, wire.size() + 1);
    auto t3 = Clock::now();
    if (!back || *back != wire) return 1;
    encode_us += us(t1 - t0);
    gzip_us += us(t2 - t1);
    gunzip_us += us(t3 - t2);
    plain_bytes += static_cast<double>(wire.size());
    gzip_bytes += static_cast<double>(compressed->size());
  }
  line("spans_per_batch", static_cast<double>(spans), "spans");
  line("protobuf_bytes_per_batch", plain_bytes / batches, "bytes");
  line("gzip_bytes_per_batch", gzip_bytes / batches, "bytes");
  line("gzip_ratio", gzip_bytes / plain_bytes, "ratio");
  line("encode_cpu_per_batch", encode_us / batches, "us");
  line("gzip_cpu_per_batch", gzip_us / batches, "us");
  line("gunzip_cpu_per_batch", gunzip_us / batches, "us");
  line("gzip_cpu_per_saved_mib", gzip_us / ((plain_bytes - gzip_bytes) / (1 << 20)), "us");
  return 0;
}

// Cost of recording one span through the C++ tracing API: start_span + attributes + end, with
// the finished span (a) handed to a processor that discards it (the API alone) and (b) queued
// in a real BatchProcessor whose export loop runs on an io_context thread, as in the agent.
//
// Prints JSON lines per bench/README.md. There is no OpenTelemetry C++ SDK on this machine (no
// Debian package), so the peer value is the published figure the target was set from: the
// OTel C++ SDK records a span in ~330-516 ns (opentelemetry-cpp benchmarks); ours must stay
// <= 500 ns. Usage: porthole-span-bench [spans_per_round=200000] [rounds=7]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <utility>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <prometheus/registry.h>

#include "porthole/common/asio_time.hpp"
#include "porthole/telemetry/batch_processor.hpp"
#include "porthole/telemetry/tracer.hpp"

namespace {

using namespace porthole;
using namespace porthole::telemetry;

class DiscardingProcessor final : public SpanProcessor {
 public:
  bool submit(SpanItem&& item) override {
    sink_ += item.span.name.size();
    return true;
  }
  std::size_t sink_ = 0;
};

class DiscardingExporter final : public SpanExporter {
 public:
  void export_batch(std::vector<SpanItem>&& batch, Done done) override {
    exported += batch.size();
    done(true);
  }
  std::atomic<std::size_t> exported{0};
};

// Median ns per span over `rounds` rounds of `n` spans: wall time, and the recording thread's
// CPU time (the machine is shared and loaded; CPU time is what one span costs the workload).
struct Cost {
  double wall_ns;
  double cpu_ns;
};

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <class Record, class BetweenRounds>
Cost median_cost(std::size_t n, int rounds, Record&& record, BetweenRounds&& between_rounds) {
  std::vector<double> wall, cpu;
  for (int r = 0; r < rounds; ++r) {
    between_rounds();
    const double cpu_start = thread_cpu_ns();
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) record(i);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    cpu.push_back((thread_cpu_ns() - cpu_start) / static_cast<double>(n));
    wall.push_back(std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(n));
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

void print(const char* metric, Cost cost) {
  constexpr double kPeerNs = 516;  // the slower end of the published OTel C++ SDK range
  for (const auto& [kind, value] : {std::pair{"cpu", cost.cpu_ns}, std::pair{"wall", cost.wall_ns}}) {
    std::printf(
        "{\"bench\":\"span_api\",\"metric\":\"%s_%s\",\"value\":%.1f,\"unit\":\"ns/span\","
        "\"peer\":\"opentelemetry-cpp SDK (published figure, not run here)\",\"peer_value\":%.0f,\"ratio\":%.2f}\n",
        metric, kind, value, kPeerNs, value / kPeerNs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;

  boost::asio::io_context io;
  AsioTimeSource time(io.get_executor());
  auto origin = std::make_shared<const ItemOrigin>(
      ItemOrigin{Resource{{{"service.name", AnyValue("bench")}}, 0}, "", InstrumentationScope{"bench", "1", {}, 0}, ""});

  DiscardingProcessor discard;
  Tracer api_only(origin, discard, time);
  const auto record = [](Tracer& tracer, std::size_t i) {
    auto span = tracer.start_span("GET /items/{id}", SpanKind::Server);
    span.set_attribute("http.request.method", "GET");
    span.set_attribute("http.response.status_code", 200);
    span.set_attribute("http.route", "/items/{id}");
    (void)i;
  };
  const auto nothing = [] {};
  print("start_end_no_attributes_discard",
        median_cost(n, rounds, [&](std::size_t) { api_only.start_span("op").end(); }, nothing));
  print("start_3_attributes_end_discard", median_cost(n, rounds, [&](std::size_t i) { record(api_only, i); }, nothing));

  // The real pipeline: a BatchProcessor with the default (OTel) configuration whose export loop
  // runs on another thread. Spans come in bursts of one queue's worth (2048), and the loop drains
  // the queue between bursts, so what is measured is enqueueing, not the cheaper drop path.
  DiscardingExporter exporter;
  prometheus::Registry registry;
  BatchConfig config;
  auto work = boost::asio::make_work_guard(io);
  SpanBatchProcessor processor(io.get_executor(), time, exporter, registry, config);
  std::thread loop([&] { io.run(); });
  Tracer batched(origin, processor, time);
  const auto drained = [&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (processor.stats().queued > 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  };
  const std::size_t burst = config.max_queue_size;
  const int bursts = static_cast<int>(std::max<std::size_t>(5, n * static_cast<std::size_t>(rounds) / burst));
  print("start_3_attributes_end_batch_processor",
        median_cost(burst, bursts, [&](std::size_t i) { record(batched, i); }, drained));
  const auto stats = processor.stats();
  std::printf("{\"bench\":\"span_api\",\"metric\":\"batch_processor_dropped_fraction\",\"value\":%.4f,\"unit\":\"ratio\","
              "\"received\":%llu,\"dropped_queue_full\":%llu}\n",
              static_cast<double>(stats.dropped_queue_full) / static_cast<double>(std::max<std::uint64_t>(1, stats.received)),
              static_cast<unsigned long long>(stats.received), static_cast<unsigned long long>(stats.dropped_queue_full));
  work.reset();
  boost::asio::post(io, [&] { processor.shutdown(std::chrono::seconds(1), [&](bool) { io.stop(); }); });
  loop.join();
  return 0;
}

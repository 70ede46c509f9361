// Per-thread xoshiro256** (Blackman & Vigna), seeded from getrandom(2) via splitmix64.
#include "porthole/telemetry/id_generator.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

namespace porthole::telemetry {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

class Xoshiro256 {
 public:
  Xoshiro256() {
    std::uint64_t seed = 0;
    // One 8-byte getrandom never blocks once the kernel pool is initialised (it always is by
    // the time the agent runs) and is not interrupted for requests of <= 256 bytes.
    if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
      seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
             (std::hash<std::thread::id>{}(std::this_thread::get_id()) << 1) ^
             reinterpret_cast<std::uintptr_t>(this);
    }
    for (auto& word : s_) word = splitmix64(seed);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  std::uint64_t s_[4];
};

Xoshiro256& generator() {
  thread_local Xoshiro256 g;
  return g;
}

}  // namespace

std::uint64_t random_u64() { return generator().next(); }

TraceId random_trace_id() {
  TraceId id;
  do {
    const std::uint64_t a = random_u64();
    const std::uint64_t b = random_u64();
    std::memcpy(id.bytes.data(), &a, 8);
    std::memcpy(id.bytes.data() + 8, &b, 8);
  } while (!id.valid());
  return id;
}

SpanId random_span_id() {
  SpanId id;
  do {
    const std::uint64_t a = random_u64();
    std::memcpy(id.bytes.data(), &a, 8);
  } while (!id.valid());
  return id;
}

}  // namespace porthole::telemetry

// splitmix64: a stateless, well-mixed 64-bit hash, so a value derived from a request's index
// (its open-loop jitter, its trace id) needs no shared RNG state.
#pragma once

#include <cstdint>

namespace porthole::loadtest {

constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace porthole::loadtest

// One request/response at a time on one client connection: the seam between the scheduler
// (ConnectionLoop) and the wire (HTTP, TLS, raw TCP), so the scheduler runs in unit tests on
// a fake exchange with injected time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "run_stats.hpp"

namespace porthole::loadtest {

// A request ready for the wire: serialised once per run (a "template"), sent many times. Only
// the bytes at the patch offsets change per request (RequestStamper): a traceparent value and a
// request number, each written over a placeholder of the same length, so lengths never change.
struct PreparedRequest {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::string wire;
  std::size_t template_index = 0;
  bool head = false;                // HTTP HEAD: the response has no body
  std::size_t response_bytes = 0;   // raw TCP: read exactly this many bytes ...
  std::string response_until;       // ... or up to and including this delimiter
  std::size_t traceparent_at = kNone;  // offset of a 55-character traceparent value in `wire`
  std::size_t counter_at = kNone;      // offset of `counter_width` digits in `wire` (after traceparent_at)
  std::size_t counter_width = 0;
  bool patched() const { return traceparent_at != kNone || counter_at != kNone; }
};

class Exchange {
 public:
  using Done = std::function<void(const RequestOutcome&)>;
  virtual ~Exchange() = default;
  // Sends `request` (connecting first if needed) as the connection's request number `index` and
  // calls `done` once, with the outcome. `request` outlives the exchange.
  virtual void start(const PreparedRequest& request, std::uint64_t index, Done done) = 0;
  // Aborts whatever is in flight; its `done` gets `reason`. Idempotent.
  virtual void cancel(RequestError reason) = 0;
};

}  // namespace porthole::loadtest

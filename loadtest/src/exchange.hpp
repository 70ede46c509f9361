// One request/response at a time on one client connection: the seam between the scheduler
// (ConnectionLoop) and the wire (HTTP, TLS, raw TCP), so the scheduler runs in unit tests on
// a fake exchange with injected time.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "run_stats.hpp"

namespace porthole::loadtest {

// A request ready for the wire: serialised once, sent many times.
struct PreparedRequest {
  std::string wire;
  std::size_t template_index = 0;
  bool head = false;                // HTTP HEAD: the response has no body
  std::size_t response_bytes = 0;   // raw TCP: read exactly this many bytes ...
  std::string response_until;       // ... or up to and including this delimiter
};

class Exchange {
 public:
  using Done = std::function<void(const RequestOutcome&)>;
  virtual ~Exchange() = default;
  // Sends `request` (connecting first if needed) and calls `done` once, with the outcome.
  // `request` outlives the exchange.
  virtual void start(const PreparedRequest& request, Done done) = 0;
  // Aborts whatever is in flight; its `done` gets `reason`. Idempotent.
  virtual void cancel(RequestError reason) = 0;
};

}  // namespace porthole::loadtest

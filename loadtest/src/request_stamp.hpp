// The bytes that differ per request. Every HTTP request carries a W3C traceparent whose trace-id
// names the run, the connection and the request (run id | connection | request number), so the
// server spans Porthole's agent records inside the enclave can be joined with the client's
// requests (--dump-requests lists them); a field-encryption document carries a request number
// in its first field, so no two documents are the same. Both are written over placeholders of
// the same length in the PreparedRequest. Each connection keeps its own copy of the template it
// sent last (up to 16 KiB, or up to its last patch) and rewrites only the digits that change, so
// a small request goes out as one contiguous buffer and a large body is never copied.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <boost/asio/buffer.hpp>

#include "exchange.hpp"

namespace porthole::loadtest {

constexpr std::size_t kTraceparentLength = 55;  // 00-<32 hex>-<16 hex>-01

// The run id as the 16 hex digits that start every trace-id of the run.
std::string run_id_hex(std::uint64_t run_id);
// trace-id: 32 hex digits, run_id (16) | connection (8) | low 32 bits of the request number (8).
std::string trace_id_hex(std::uint64_t run_id, std::uint32_t connection, std::uint64_t index);
// The full traceparent value for a request (sampled flag set).
std::string traceparent_value(std::uint64_t run_id, std::uint32_t connection, std::uint64_t index);
// The placeholder prepare_requests() puts in the wire.
std::string traceparent_placeholder();

class RequestStamper {
 public:
  // The request: this connection's patched copy of the template's first bytes, then the rest
  // of the template (empty for requests up to 16 KiB).
  using Buffers = std::array<boost::asio::const_buffer, 2>;
  // `connections`: the run's total, so request numbers are unique over the run.
  RequestStamper(std::uint64_t run_id, std::uint32_t connection, std::uint32_t connections);

  // The request's bytes with this request's patches; valid until the next call.
  const Buffers& buffers(const PreparedRequest& request, std::uint64_t index);

 private:
  std::uint64_t run_id_;
  std::uint32_t connection_;
  std::uint32_t connections_;
  const PreparedRequest* copied_ = nullptr;  // whose bytes `copy_` holds
  std::string copy_;
  Buffers buffers_{};
};

}  // namespace porthole::loadtest

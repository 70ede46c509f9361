// libFuzzer target: the NTP packet layer, which sees packets from the untrusted parent and from
// chronyd. Parsing and both policy checks must never misbehave, and whatever passes must agree
// with parse_header and survive the timestamp arithmetic.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "porthole/ntp/packet.hpp"

namespace ntp = porthole::ntp;

namespace {

void check_timestamp(ntp::Timestamp t) {
  const ntp::Timestamp back = ntp::to_ntp(ntp::from_ntp(t));
  // Nanoseconds are coarser than 2^-32 s, so the fraction may move by a few units, never more.
  const auto drift = static_cast<std::int64_t>(back.raw() - t.raw());
  if (drift < -4 || drift > 4) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> packet(data, size);
  const auto header = ntp::parse_header(packet);
  if (header.has_value() != (size >= ntp::kHeaderBytes)) __builtin_trap();

  const auto request_error = ntp::check_client_request(packet);
  const auto reply_error = ntp::check_server_reply(packet);
  if (request_error) (void)ntp::to_string(*request_error);
  if (reply_error) (void)ntp::to_string(*reply_error);
  if (!header) {
    if (!request_error || !reply_error) __builtin_trap();
    return 0;
  }

  if (!request_error && (header->mode != ntp::Mode::Client || header->transmit.zero())) __builtin_trap();
  if (!reply_error && (header->mode != ntp::Mode::Server || header->stratum > 15)) __builtin_trap();
  if (!reply_error) (void)ntp::is_kiss_of_death(*header);
  if (ntp::transmit_timestamp(packet) != header->transmit) __builtin_trap();
  if (ntp::origin_timestamp(packet) != header->origin) __builtin_trap();

  for (const auto t : {header->reference, header->origin, header->receive, header->transmit}) check_timestamp(t);
  const auto sample = ntp::compute_sample(header->origin, header->receive, header->transmit, header->reference);
  if (!std::isfinite(sample.offset_seconds) || !std::isfinite(sample.delay_seconds)) __builtin_trap();

  const auto request = ntp::make_client_request(header->transmit, header->version);
  if (ntp::transmit_timestamp(request) != header->transmit) __builtin_trap();
  return 0;
}

// What the protobuf and JSON decoders of OTLP metrics share: the limits they count against, and
// the error message with the path of the field that failed, built innermost first while the
// decoders unwind ("resource_metrics[0].scope_metrics[1].metrics[2].sum: ...").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "porthole/telemetry/otlp_proto.hpp"

namespace porthole::telemetry::metrics_detail {

class DecodeState {
 public:
  DecodeState(const OtlpDecodeLimits& limits, std::string& error) : limits_(limits), error_(error) {}

  const OtlpDecodeLimits& limits() const { return limits_; }
  std::string& error() { return error_; }

  // Each returns false, so that `return x || fail_in("field")` reads as what it does.
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }
  bool fail_in(std::string_view field) {
    error_ = std::string(field) + (path_started_ ? "." : ": ") + error_;
    path_started_ = true;
    return false;
  }
  bool fail_in(std::string_view field, std::size_t index) {
    return fail_in(std::string(field) + "[" + std::to_string(index) + "]");
  }
  bool fail_at(std::string_view field, std::string message) {
    fail(std::move(message));
    return fail_in(field);
  }

  // Messages, attribute values and bucket counts, against max_values; data points against
  // max_items.
  bool count_values(std::size_t n) {
    values_ += n;
    return values_ <= limits_.max_values || fail("more than " + std::to_string(limits_.max_values) + " values");
  }
  bool count_point() {
    return ++points_ <= limits_.max_items || fail("more than " + std::to_string(limits_.max_items) + " data points");
  }

 private:
  const OtlpDecodeLimits& limits_;
  std::string& error_;
  std::size_t values_ = 0;
  std::size_t points_ = 0;
  bool path_started_ = false;
};

}  // namespace porthole::telemetry::metrics_detail

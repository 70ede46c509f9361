// How metric attribute values become label-value strings, shared by the protobuf and JSON
// decoders of otlp_metrics.hpp. Both decode an AnyValue into a boost::json::value first (strings,
// booleans, integers, doubles, bytes as base64 strings, arrays, maps), then render it once.
#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace porthole::telemetry::metrics_detail {

// The shortest form that reads back as the same double ("2", "0.1", "1e+300"); NaN and the
// infinities as Go's strconv writes them ("NaN", "+Inf", "-Inf"), like the OpenTelemetry
// Collector's label values.
std::string render_double(double v);

// A double inside an array or map attribute: JSON has no NaN or infinity, so those become the
// strings render_double() gives.
boost::json::value json_double(double v);

// The label value: a string as it is, an empty value as "", a boolean as true/false, a number as
// above, an array or a map as compact JSON (numbers as above, keys in their order).
std::string render_attribute(const boost::json::value& v);

}  // namespace porthole::telemetry::metrics_detail

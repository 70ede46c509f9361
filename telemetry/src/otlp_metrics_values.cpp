#include "otlp_metrics_values.hpp"

#include <charconv>
#include <cmath>

#include <boost/json/serialize.hpp>

namespace porthole::telemetry::metrics_detail {
namespace {

namespace json = boost::json;

void render_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::string: out += json::serialize(v.get_string()); break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: out += std::to_string(v.get_int64()); break;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case json::kind::double_: out += render_double(v.get_double()); break;
    case json::kind::array: {
      out.push_back('[');
      const char* separator = "";
      for (const auto& element : v.get_array()) {
        out += separator;
        separator = ",";
        render_json(element, out);
      }
      out.push_back(']');
      break;
    }
    case json::kind::object: {
      out.push_back('{');
      const char* separator = "";
      for (const auto& member : v.get_object()) {
        out += separator;
        separator = ",";
        out += json::serialize(json::string_view(member.key()));
        out.push_back(':');
        render_json(member.value(), out);
      }
      out.push_back('}');
      break;
    }
    case json::kind::null: out += "null"; break;
  }
}

}  // namespace

std::string render_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
  return std::string(buffer, end);
}

json::value json_double(double v) {
  if (std::isfinite(v)) return v;
  return json::string(render_double(v));
}

std::string render_attribute(const json::value& v) {
  if (const auto* s = v.if_string()) return std::string(s->data(), s->size());
  if (v.is_null()) return {};
  std::string out;
  render_json(v, out);
  return out;
}

}  // namespace porthole::telemetry::metrics_detail

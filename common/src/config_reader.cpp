#include "porthole/common/config_reader.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace porthole {
namespace {

bool parse_number_and_unit(std::string_view text, double& number, std::string_view& unit) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return false;
  std::string digits(text.substr(0, i));
  char* end = nullptr;
  number = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size() || !(number >= 0)) return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return true;
}

}  // namespace

bool parse_duration(std::string_view text, Duration& out) {
  double n = 0;
  std::string_view unit;
  if (!parse_number_and_unit(text, n, unit)) return false;
  double ns_per = 0;
  if (unit == "ns") ns_per = 1;
  else if (unit == "us") ns_per = 1e3;
  else if (unit == "ms") ns_per = 1e6;
  else if (unit == "s") ns_per = 1e9;
  else if (unit == "m") ns_per = 60e9;
  else if (unit == "h") ns_per = 3600e9;
  else return false;
  const double total = n * ns_per;
  if (total > 9e18) return false;
  out = Duration(static_cast<Duration::rep>(total));
  return true;
}

std::string format_duration(Duration d) {
  using namespace std::chrono;
  const auto ns = d.count();
  if (ns % 3'600'000'000'000 == 0 && ns != 0) return std::to_string(ns / 3'600'000'000'000) + "h";
  if (ns % 60'000'000'000 == 0 && ns != 0) return std::to_string(ns / 60'000'000'000) + "m";
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

bool parse_bytes(std::string_view text, std::uint64_t& out) {
  double n = 0;
  std::string_view unit;
  if (!parse_number_and_unit(text, n, unit)) return false;
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB") mult = 1024.0;
  else if (unit == "MiB") mult = 1024.0 * 1024;
  else if (unit == "GiB") mult = 1024.0 * 1024 * 1024;
  else if (unit == "KB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else return false;
  const double total = n * mult;
  if (total > 1.8e19 || total != static_cast<double>(static_cast<std::uint64_t>(total))) return false;
  out = static_cast<std::uint64_t>(total);
  return true;
}

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const std::string> source)
    : node_(std::move(node)), path_(std::move(path)), source_(std::move(source)) {}

ConfigNode ConfigNode::root(const YAML::Node& node, std::string source) {
  auto src = std::make_shared<const std::string>(std::move(source));
  if (node && !node.IsNull() && !node.IsMap()) {
    throw ConfigError(*src + ": the top level must be a map of sections (e.g. 'control:'), not a " +
                      (node.IsSequence() ? "list" : "single value"));
  }
  return ConfigNode(node, "", std::move(src));
}

void ConfigNode::fail(const std::string& key, const std::string& what) const {
  throw ConfigError(*source_ + ": " + path_of(key) + ": " + what);
}

std::optional<YAML::Node> ConfigNode::scalar(const std::string& key, const char* expected) {
  seen_.insert(key);
  if (!node_.IsDefined() || !node_.IsMap()) return std::nullopt;
  const YAML::Node& map = node_;  // const access: operator[] must not insert the key
  YAML::Node v = map[key];
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  if (!v.IsScalar()) fail(key, std::string("expected ") + expected + ", found a " + (v.IsMap() ? "map" : "list"));
  return v;
}

std::string ConfigNode::string(const std::string& key, const std::string& fallback) {
  auto v = scalar(key, "a string");
  return v ? v->Scalar() : fallback;
}

std::int64_t ConfigNode::integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  auto v = scalar(key, "an integer");
  if (!v) return fallback;
  const auto& s = v->Scalar();
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size()) fail(key, "'" + s + "' is not an integer");
  if (out < min || out > max) {
    fail(key, "'" + s + "' is out of range; it must be " + std::to_string(min) + ".." + std::to_string(max));
  }
  return out;
}

bool ConfigNode::boolean(const std::string& key, bool fallback) {
  auto v = scalar(key, "true or false");
  if (!v) return fallback;
  const auto& s = v->Scalar();
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(key, "'" + s + "' is not a boolean; write true or false");
}

Duration ConfigNode::duration(const std::string& key, Duration fallback, Duration min, Duration max) {
  auto v = scalar(key, "a duration");
  if (!v) return fallback;
  Duration d{};
  if (!parse_duration(v->Scalar(), d)) {
    fail(key, "'" + v->Scalar() + "' is not a duration; write a number and a unit, e.g. 500ms, 5s, 2m");
  }
  if (d < min || d > max) {
    fail(key, "'" + v->Scalar() + "' is out of range; it must be between " + format_duration(min) + " and " +
                  format_duration(max));
  }
  return d;
}

std::uint64_t ConfigNode::bytes(const std::string& key, std::uint64_t fallback, std::uint64_t min, std::uint64_t max) {
  auto v = scalar(key, "a size");
  if (!v) return fallback;
  std::uint64_t b = 0;
  if (!parse_bytes(v->Scalar(), b)) fail(key, "'" + v->Scalar() + "' is not a size; write e.g. 65536, 64KiB, 4MiB");
  if (b < min || b > max) {
    fail(key, "'" + v->Scalar() + "' is out of range; it must be " + std::to_string(min) + ".." +
                  std::to_string(max) + " bytes");
  }
  return b;
}

std::vector<std::string> ConfigNode::strings(const std::string& key, const std::vector<std::string>& fallback) {
  seen_.insert(key);
  const YAML::Node& self = node_;
  if (!self.IsDefined() || !self.IsMap()) return fallback;
  YAML::Node v = self[key];
  if (!v.IsDefined() || v.IsNull()) return fallback;
  if (!v.IsSequence()) fail(key, "expected a list, e.g. [\"a\", \"b\"]");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) fail(key + "[" + std::to_string(i) + "]", "expected a string");
    out.push_back(v[i].Scalar());
  }
  return out;
}

std::vector<ConfigNode> ConfigNode::maps(const std::string& key) {
  seen_.insert(key);
  const YAML::Node& self = node_;
  std::vector<ConfigNode> out;
  if (!self.IsDefined() || !self.IsMap()) return out;
  YAML::Node v = self[key];
  if (!v.IsDefined() || v.IsNull()) return out;
  if (!v.IsSequence()) fail(key, "expected a list of maps");
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto item = key + "[" + std::to_string(i) + "]";
    if (!v[i].IsMap()) fail(item, "expected a map of settings");
    out.push_back(ConfigNode(v[i], path_of(item), source_));
  }
  return out;
}

ConfigNode ConfigNode::map(const std::string& key) {
  seen_.insert(key);
  const YAML::Node& self = node_;
  YAML::Node v = (self.IsDefined() && self.IsMap()) ? self[key] : YAML::Node();
  const bool present = v.IsDefined() && !v.IsNull();
  if (present && !v.IsMap()) fail(key, "expected a map of settings");
  return ConfigNode(present ? v : YAML::Node(), path_of(key), source_);
}

std::vector<std::string> ConfigNode::keys() {
  std::vector<std::string> out;
  if (!node_.IsDefined() || !node_.IsMap()) return out;
  for (const auto& kv : node_) {
    out.push_back(kv.first.Scalar());
    seen_.insert(kv.first.Scalar());
  }
  return out;
}

void ConfigNode::reject_unknown_keys() const {
  if (!node_.IsDefined() || !node_.IsMap()) return;
  std::string unknown;
  std::string known;
  for (const auto& kv : node_) {
    if (!seen_.count(kv.first.Scalar())) unknown += (unknown.empty() ? "" : ", ") + path_of(kv.first.Scalar());
  }
  if (unknown.empty()) return;
  for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
  throw ConfigError(*source_ + ": unknown key " + unknown + (path_.empty() ? "" : " (in '" + path_ + "')") +
                    "; known keys here: " + known);
}

YAML::Node load_yaml_string(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": YAML syntax error: " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open the config file (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return load_yaml_string(ss.str(), path);
}

}  // namespace porthole

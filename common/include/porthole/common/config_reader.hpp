// Reading YAML configuration with errors a sysadmin can act on. Every error names the key path
// and says what to fix ("control.heartbeat_timeout: 'soon' is not a duration; write e.g. 500ms,
// 5s, 2m"). Unknown keys are errors too: a typo must not silently fall back to a default.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "porthole/common/time.hpp"

namespace porthole {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "1500ms", "2s", "1m", "1h", "250us"; returns false on anything else.
bool parse_duration(std::string_view text, Duration& out);
std::string format_duration(Duration d);
// "4096", "64KiB", "4MiB", "1GiB" (also KB/MB/GB as powers of 1000); false on anything else.
bool parse_bytes(std::string_view text, std::uint64_t& out);

class ConfigNode {
 public:
  // The root of a document; `source` names it in messages (a file path).
  static ConfigNode root(const YAML::Node& node, std::string source);

  std::string string(const std::string& key, const std::string& fallback);
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  bool boolean(const std::string& key, bool fallback);
  Duration duration(const std::string& key, Duration fallback, Duration min, Duration max);
  std::uint64_t bytes(const std::string& key, std::uint64_t fallback, std::uint64_t min, std::uint64_t max);
  // A list of strings; a missing key gives `fallback`.
  std::vector<std::string> strings(const std::string& key, const std::vector<std::string>& fallback);
  ConfigNode map(const std::string& key);  // a missing key reads as an empty map
  // A list of maps (e.g. listeners), each readable as a ConfigNode at "key[i]".
  std::vector<ConfigNode> maps(const std::string& key);
  // The keys of this map, marking them all as known (for free-form maps like log levels).
  std::vector<std::string> keys();

  // Throws naming every key that no getter asked for. Call once per map after reading it.
  void reject_unknown_keys() const;

  const std::string& path() const { return path_; }
  std::string path_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const std::string> source);
  std::optional<YAML::Node> scalar(const std::string& key, const char* expected);

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const std::string> source_;
  std::set<std::string> seen_;
};

// Loads a YAML file; a syntax error becomes a ConfigError with file, line and column.
YAML::Node load_yaml_file(const std::string& path);
YAML::Node load_yaml_string(const std::string& text, const std::string& source);

}  // namespace porthole

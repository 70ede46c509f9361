// Shared by the config tests of both binaries: every key of a default config file must be
// documented in docs/configuration.md as `section.key`.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace porthole::testing {

inline void collect_key_paths(const YAML::Node& node, const std::string& prefix, std::vector<std::string>& out) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    const auto path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    out.push_back(path);
    collect_key_paths(kv.second, path, out);
  }
}

inline std::vector<std::string> undocumented_keys(const std::string& default_yaml, const std::string& doc_section) {
  std::ifstream in(std::string(PORTHOLE_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto docs = ss.str();
  // Only the binary's own section of the document counts.
  const auto start = docs.find(doc_section);
  const auto section = start == std::string::npos ? std::string() : docs.substr(start);
  std::vector<std::string> keys, missing;
  collect_key_paths(YAML::Load(default_yaml), "", keys);
  for (const auto& k : keys) {
    if (section.find("`" + k + "`") == std::string::npos) missing.push_back(k);
  }
  return missing;
}

}  // namespace porthole::testing

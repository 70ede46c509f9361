// Logging for both binaries: spdlog, one named logger per component ("control", "admin", ...)
// sharing one sink, as text or JSON lines, with a level per component.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "porthole/common/config_reader.hpp"

namespace porthole {

struct LoggingConfig {
  enum class Format { Text, Json };
  Format format = Format::Text;
  spdlog::level::level_enum level = spdlog::level::info;
  std::map<std::string, spdlog::level::level_enum> levels;  // per component, overrides `level`
  bool operator==(const LoggingConfig&) const = default;
};

// Reads the `logging:` section: format (text|json), level, levels: {component: level}.
LoggingConfig read_logging_config(ConfigNode node);

// Installs the sink (stderr) and formatter; reconfigures loggers made earlier. `process` is
// written into every JSON line ("sidecar" / "agent").
void setup_logging(const LoggingConfig& config, std::string_view process);

// The logger of one component, created on first use with the configured level.
std::shared_ptr<spdlog::logger> logger(const std::string& component);

// Adds a sink to every component logger, present and future, besides stderr (the agent's log
// pipeline). Call at startup, before other threads log; the sink filters by its own level.
void add_log_sink(spdlog::sink_ptr sink);

// Parses "trace|debug|info|warn|error|critical|off"; returns false when the name is unknown.
bool parse_log_level(std::string_view name, spdlog::level::level_enum& out);

}  // namespace porthole

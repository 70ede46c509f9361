// The command line both binaries share:
//   --config FILE  --check-config  --print-default-config  --version  --help
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace porthole {

struct CommandLine {
  std::optional<std::string> config_path;
  bool check_config = false;
  bool print_default_config = false;
  bool version = false;
  bool help = false;
};

// Throws ConfigError for an unknown option or a missing argument.
CommandLine parse_command_line(int argc, const char* const* argv);
std::string usage(std::string_view program, std::string_view description);

}  // namespace porthole

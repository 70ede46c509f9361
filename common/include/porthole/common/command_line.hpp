// The command line both binaries share:
//   --config FILE  --check-config  --print-default-config  --version  --help
// handle_command_line() does all of it; main() only says what the binary is.
#pragma once

#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "porthole/common/config_reader.hpp"

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

// What a binary tells handle_command_line() about itself.
template <typename Config>
struct Program {
  std::string_view name;         // "porthole-sidecar"
  std::string_view description;  // for --help
  const std::string& (*default_yaml)();
  Config (*load)(const std::string& path);
  std::string (*describe)(const Config&);  // one line for --check-config
};

// Handles --help, --version, --print-default-config, --config and --check-config. Returns an
// exit code when the process should exit now (2 for a bad command line or config), nothing
// when it should run with `config`.
template <typename Config>
std::optional<int> handle_command_line(int argc, const char* const* argv, const Program<Config>& program,
                                       Config& config) {
  CommandLine cl;
  try {
    cl = parse_command_line(argc, argv);
    if (cl.help) {
      std::cout << usage(program.name, program.description);
      return 0;
    }
    if (cl.version) {
      std::cout << program.name << " " << PORTHOLE_VERSION << "\n";
      return 0;
    }
    if (cl.print_default_config) {
      std::cout << program.default_yaml();
      return 0;
    }
    if (cl.config_path) config = program.load(*cl.config_path);
  } catch (const ConfigError& e) {
    std::cerr << program.name << ": " << e.what() << "\n";
    return 2;
  }
  if (cl.check_config) {
    std::cout << program.name << ": " << (cl.config_path ? *cl.config_path : std::string("the defaults"))
              << " is valid (" << program.describe(config) << ")\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace porthole

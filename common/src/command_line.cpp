#include "porthole/common/command_line.hpp"

#include "porthole/common/config_reader.hpp"

namespace porthole {

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) throw ConfigError("--config needs a file path");
      cl.config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      cl.config_path = std::string(arg.substr(9));
    } else if (arg == "--check-config") {
      cl.check_config = true;
    } else if (arg == "--print-default-config") {
      cl.print_default_config = true;
    } else if (arg == "--version") {
      cl.version = true;
    } else if (arg == "--help" || arg == "-h") {
      cl.help = true;
    } else {
      throw ConfigError("unknown option '" + std::string(arg) + "'; see --help");
    }
  }
  return cl;
}

std::string usage(std::string_view program, std::string_view description) {
  std::string u;
  u += "usage: " + std::string(program) + " [--config FILE] [--check-config] [--print-default-config]\n\n";
  u += std::string(description) + "\n\n";
  u += "  --config FILE            YAML configuration (without it, the defaults are used)\n";
  u += "  --check-config           validate the configuration, print the result and exit\n";
  u += "  --print-default-config   print the default configuration, documented, and exit\n";
  u += "  --version                print the version and exit\n";
  u += "Every option is documented in docs/configuration.md.\n";
  return u;
}

}  // namespace porthole

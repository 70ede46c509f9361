// The message of the ConfigError `f` throws, or "no error": for tests of error messages.
#pragma once

#include <functional>
#include <string>

#include "porthole/common/config_reader.hpp"

namespace porthole::testing {

inline std::string config_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace porthole::testing

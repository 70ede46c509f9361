// porthole_build_info{side, version} = 1, the conventional way to expose the running version.
#pragma once

#include <string>

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace porthole {

inline void register_build_info(prometheus::Registry& registry, const std::string& side) {
  prometheus::BuildGauge()
      .Name("porthole_build_info")
      .Help("Always 1; the labels say which Porthole version runs on which side.")
      .Labels({{"side", side}})
      .Register(registry)
      .Add({{"version", PORTHOLE_VERSION}})
      .Set(1);
}

}  // namespace porthole

// Graceful shutdown for both binaries. On SIGTERM or SIGINT: call `begin_shutdown` once (stop
// accepting, tell peers), then run until `drained()` says the work in flight is done, for at
// most `drain`. A second signal stops at once. Returns when it is time to exit.
#pragma once

#include <functional>

#include <boost/asio/io_context.hpp>

#include "porthole/common/config_reader.hpp"
#include "porthole/common/time.hpp"

namespace porthole {

void run_until_signalled(boost::asio::io_context& io, Duration drain, const std::function<void()>& begin_shutdown,
                         const std::function<bool()>& drained);

// Reads the `shutdown:` section (drain_timeout, default 5s).
Duration read_shutdown_config(ConfigNode node);

}  // namespace porthole

// Child processes without blocking the event loop: a one-shot command whose output we read
// (chronyc), and the spawn/stop primitives a supervisor needs (chronyd). No shell is involved.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "porthole/common/time.hpp"

namespace porthole {

struct CommandResult {
  int exit_code = -1;  // -1 when it could not run or was killed at the timeout
  std::string output;  // stdout, at most max_output bytes
  std::string error;   // why it could not run, if it could not
};

// Runs argv[0] with argv, collects stdout, kills it at `timeout`; `done` runs on the executor.
void run_command(boost::asio::any_io_executor executor, TimeSource& time, std::vector<std::string> argv,
                 Duration timeout, std::size_t max_output, std::function<void(CommandResult)> done);

// Starts argv with stdin from /dev/null and stdout/stderr inherited; returns the pid or -1
// (and sets `error`).
pid_t spawn_process(const std::vector<std::string>& argv, std::string& error);

// The exit status of a child that has ended (nothing when it still runs); never blocks.
std::optional<int> reap_process(pid_t pid);

}  // namespace porthole

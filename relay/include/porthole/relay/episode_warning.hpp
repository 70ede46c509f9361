// Rate limits the warning for a condition that comes in episodes (every splice pipe in use,
// pipe() failing for want of descriptors): the first occurrence is logged at once, later ones at
// most once per `every`, each line saying how many occurrences went unlogged since the previous
// one — a few lines however often the condition strikes, and nothing hidden. Each condition has
// its own, so one cannot silence another. Not thread-safe: the owner locks. The pacing is
// common/warning_limiter.hpp's; this adds the notion of an episode.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "porthole/common/time.hpp"
#include "porthole/common/warning_limiter.hpp"

namespace porthole::relay {

class EpisodeWarning {
 public:
  explicit EpisodeWarning(Duration every) : lines_(every) {}

  struct Line {
    bool new_episode;        // the condition cleared and struck again since the previous line
    std::uint64_t unlogged;  // occurrences not logged since the previous line
  };
  // The condition struck at `now`: the line to log, or nullopt when one was logged less than
  // `every` ago (then this occurrence is counted for the next line).
  std::optional<Line> occurred(MonoTime now) {
    if (!in_episode_) new_episode_ = true;
    in_episode_ = true;
    const std::uint64_t reported = lines_.add(1, now);  // this occurrence and the unlogged ones
    if (reported == 0) return std::nullopt;
    return Line{std::exchange(new_episode_, false), reported - 1};
  }
  // The condition cleared: the next occurrence starts a new episode.
  void ended() { in_episode_ = false; }

 private:
  WarningLimiter lines_;
  bool in_episode_ = false;
  bool new_episode_ = false;
};

}  // namespace porthole::relay

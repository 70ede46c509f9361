// PipePool: the bound, the idle cache, pipes returned by whoever drops them, and warnings that
// stay few however often the pool fails (time advanced by hand).
#include "porthole/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "porthole/common/logging.hpp"
#include "porthole/common/manual_time.hpp"
#include "registry_value.hpp"

namespace porthole::relay {
namespace {

using std::chrono::seconds;

// Takes every free descriptor the process may open, so pipe() fails with EMFILE until undone.
class DescriptorsExhausted {
 public:
  DescriptorsExhausted() {
    // UBSan's first check of a virtual call on each dynamic type probes memory through a pipe of
    // its own, and reports a false error when it cannot open one: log a warning through the
    // relay's logger first, so the checks on that path are cached before the table is full.
    logger("relay")->warn("{}: descriptors about to run out ({})", "test", "warm-up");
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    // A low soft limit first, so filling the table takes a few descriptors, not a million.
    std::size_t open = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++open;
    rlimit low = saved_;
    low.rlim_cur = open + 8;
    ::setrlimit(RLIMIT_NOFILE, &low);
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) taken_.push_back(fd);
  }
  ~DescriptorsExhausted() {
    for (int fd : taken_) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  rlimit saved_{};
  std::vector<int> taken_;
};

class PipePoolTest : public ::testing::Test {
 protected:
  void SetUp() override { logger("relay")->sinks().push_back(log_); }
  void TearDown() override {
    auto& sinks = logger("relay")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), log_), sinks.end());
  }
  PipePool& pool(std::size_t max_pipes, std::size_t max_idle, TimeSource* time) {
    return pool_.emplace(registry_, "parent", "test", PipePoolOptions{max_pipes, max_idle, 4096, time});
  }
  // The tests that run out of descriptors pace the warnings by the steady clock (they take
  // milliseconds), which keeps a virtual call out of the path (see DescriptorsExhausted).
  PipePool& pool_without_time(std::size_t max_pipes, std::size_t max_idle) {
    return pool(max_pipes, max_idle, nullptr);
  }
  std::vector<std::string> warnings_containing(const std::string& text) {
    std::vector<std::string> out;
    for (const auto& line : log_->last_formatted()) {
      if (line.find(text) != std::string::npos && line.find("warn") != std::string::npos) out.push_back(line);
    }
    return out;
  }
  double fallbacks(const std::string& reason) {
    return porthole::testing::registry_value(registry_, "porthole_relay_splice_fallbacks_total", "reason", reason);
  }

  ManualTimeSource time_;
  prometheus::Registry registry_;
  std::optional<PipePool> pool_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
};

TEST_F(PipePoolTest, NeverHandsOutMoreThanMaxPipesAndCachesOnlyEmptyOnes) {
  auto& p = pool(2, 4, &time_);
  Pipe a = p.acquire(), b = p.acquire();
  ASSERT_TRUE(a && b);
  PipePool::Fallback why = PipePool::Fallback::Unsupported;
  EXPECT_FALSE(p.acquire(&why));
  EXPECT_EQ(why, PipePool::Fallback::Exhausted);
  EXPECT_EQ(p.in_use(), 2u);
  const auto idle = p.idle();
  p.release(std::move(a), true);
  EXPECT_EQ(p.idle(), idle + 1);
  p.release(std::move(b), false);  // still holds bytes: closed
  EXPECT_EQ(p.idle(), idle + 1);
  EXPECT_EQ(p.in_use(), 0u);
}

TEST_F(PipePoolTest, APipeDroppedWithoutBeingReleasedComesBackClosed) {
  auto& p = pool(4, 4, &time_);
  const auto idle = p.idle();
  { Pipe dropped = p.acquire(); }
  EXPECT_EQ(p.in_use(), 0u);
  EXPECT_EQ(p.idle(), idle - 1);  // it may have held bytes: not reused
}

TEST_F(PipePoolTest, ExhaustionIsWarnedOncePerEpisodeThenAtMostOncePerMinuteWithACount) {
  auto& p = pool(2, 2, &time_);
  Pipe a = p.acquire(), b = p.acquire();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(p.acquire());
  EXPECT_EQ(warnings_containing("splice pipes are in use").size(), 1u);
  time_.advance(seconds(61));
  EXPECT_FALSE(p.acquire());
  auto lines = warnings_containing("splice pipes are in use");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("99 more"), std::string::npos) << lines[1];
  // Half the pipes back ends the episode; the next one, a while later, is warned at once.
  p.release(std::move(a), true);
  time_.advance(seconds(61));
  a = p.acquire();
  EXPECT_FALSE(p.acquire());
  EXPECT_EQ(warnings_containing("splice pipes are in use").size(), 3u);
  // Acquiring does not count a fallback: only a read copied through a buffer does (the relay's).
  EXPECT_EQ(fallbacks("exhausted"), 0);
}

TEST_F(PipePoolTest, FailingPipeCreationDoesNotFloodTheLogWhilePipesComeAndGo) {
  auto& p = pool_without_time(8, 1);
  Pipe cached = p.acquire();  // the pool's one idle pipe
  ASSERT_TRUE(cached);
  {
    DescriptorsExhausted exhausted;
    for (int i = 0; i < 50; ++i) {
      PipePool::Fallback why = PipePool::Fallback::Exhausted;
      EXPECT_FALSE(p.acquire(&why));
      EXPECT_EQ(why, PipePool::Fallback::PipeFailed);
      // Other connections return and borrow pipes between the failures.
      p.release(std::move(cached), true);
      cached = p.acquire();
      ASSERT_TRUE(cached);
    }
  }
  EXPECT_EQ(warnings_containing("pipe() failed").size(), 1u);
  EXPECT_EQ(fallbacks("pipe_failed"), 0);  // counted by the relay, per copied read
}

TEST_F(PipePoolTest, FailingPipeCreationDoesNotHideAnExhaustionEpisode) {
  auto& p = pool_without_time(2, 0);
  {
    DescriptorsExhausted exhausted;
    EXPECT_FALSE(p.acquire());
  }
  EXPECT_EQ(warnings_containing("pipe() failed").size(), 1u);
  Pipe a = p.acquire(), b = p.acquire();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(p.acquire());
  EXPECT_EQ(warnings_containing("splice pipes are in use").size(), 1u);
}

}  // namespace
}  // namespace porthole::relay

#include "porthole/common/io_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace porthole {
namespace {

bool wait_for(const std::atomic<bool>& flag) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!flag && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return flag;
}

TEST(IoThread, RunsPostedWorkOnItsOwnThread) {
  IoThread loop;
  loop.start();
  std::atomic<bool> ran = false;
  std::thread::id where;
  boost::asio::post(loop.executor(), [&] {
    where = std::this_thread::get_id();
    ran = true;
  });
  ASSERT_TRUE(wait_for(ran));
  EXPECT_NE(where, std::this_thread::get_id());
  loop.join();
}

TEST(IoThread, JoinEndsALoopThatStillHasWork) {
  IoThread loop;
  boost::asio::steady_timer never(loop.context(), std::chrono::hours(1));
  never.async_wait([](const boost::system::error_code&) {});
  loop.start();
  loop.release();
  loop.join();  // would hang without stopping the loop: the timer is pending for an hour
  SUCCEED();
}

TEST(IoThread, ReleasedLoopEndsWhenItsWorkIsDone) {
  IoThread loop;
  loop.start();
  std::atomic<bool> ran = false;
  boost::asio::post(loop.executor(), [&] { ran = true; });
  loop.release();
  ASSERT_TRUE(wait_for(ran));
  // Ends by itself: join() only reaps the thread.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!loop.context().stopped() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_TRUE(loop.context().stopped());
  loop.join();
}

}  // namespace
}  // namespace porthole

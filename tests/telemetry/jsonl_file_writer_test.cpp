#include "porthole/telemetry/jsonl_file_writer.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include <gtest/gtest.h>

#include "captured_log.hpp"
#include "porthole/common/manual_time.hpp"

namespace porthole::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class JsonlFileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("porthole-jsonl-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST_F(JsonlFileWriterTest, AppendsOneObjectPerLine) {
  const auto path = dir / "spans.jsonl";
  {
    JsonlFileWriter w({.path = path.string()});
    EXPECT_TRUE(w.write(R"({"a":1})"));
    EXPECT_TRUE(w.write(R"({"b":2})"));
    EXPECT_TRUE(w.flush());
    EXPECT_EQ(w.lines_written(), 2u);
  }
  {
    JsonlFileWriter w({.path = path.string()});
    EXPECT_TRUE(w.write(R"({"c":3})"));
  }  // the destructor flushes
  EXPECT_EQ(slurp(path), "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
}

TEST_F(JsonlFileWriterTest, RefusesEmbeddedNewlinesAndDropsBeyondTheBuffer) {
  JsonlFileWriter w({.path = (dir / "x.jsonl").string(), .max_buffer_bytes = 16, .flush_threshold_bytes = 1000});
  EXPECT_FALSE(w.write("{\"a\":\n1}"));
  EXPECT_EQ(w.lines_invalid(), 1u);
  EXPECT_TRUE(w.write("{\"k\":123456}"));  // 13 bytes with the newline
  EXPECT_FALSE(w.write("{\"k\":1}"));
  EXPECT_EQ(w.lines_dropped(), 1u);
  EXPECT_TRUE(w.flush());
  EXPECT_TRUE(w.write("{\"k\":1}"));
}

TEST_F(JsonlFileWriterTest, ReopenFollowsLogrotate) {
  const auto path = dir / "out.jsonl";
  JsonlFileWriter w({.path = path.string()});
  w.write("{\"n\":1}");
  w.flush();
  fs::rename(path, dir / "out.jsonl.old");
  w.write("{\"n\":2}");
  ASSERT_TRUE(w.reopen());  // flushes line 2 into the moved file first
  w.write("{\"n\":3}");
  w.flush();
  EXPECT_EQ(slurp(dir / "out.jsonl.old"), "{\"n\":1}\n{\"n\":2}\n");
  EXPECT_EQ(slurp(path), "{\"n\":3}\n");
}

TEST_F(JsonlFileWriterTest, RotatesBySize) {
  const auto path = dir / "r.jsonl";
  JsonlFileWriter w({.path = path.string(), .flush_threshold_bytes = 1, .rotate_bytes = 20, .keep_files = 2});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.write("{\"line\":" + std::to_string(i) + "}"));  // 11 bytes each
  // 0 -> r.jsonl; 1 would exceed 20 bytes -> rotate; etc. Only two old files are kept.
  EXPECT_EQ(slurp(path), "{\"line\":4}\n");
  EXPECT_EQ(slurp(dir / "r.jsonl.1"), "{\"line\":3}\n");
  EXPECT_EQ(slurp(dir / "r.jsonl.2"), "{\"line\":2}\n");
  EXPECT_FALSE(fs::exists(dir / "r.jsonl.3"));
  EXPECT_EQ(w.rotations(), 4u);
}

TEST_F(JsonlFileWriterTest, UnopenablePathIsAClearError) {
  try {
    JsonlFileWriter w({.path = (dir / "missing" / "x.jsonl").string()});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
  }
}

// Everything a non-blocking read of `fd` returns right now.
std::string read_available(int fd) {
  std::string out;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) {
      const int flags = ::fcntl(fd, F_GETFL);
      ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
      const ssize_t m = ::read(fd, chunk, sizeof chunk);
      ::fcntl(fd, F_SETFL, flags);
      if (m <= 0) return out;
      out.append(chunk, static_cast<std::size_t>(m));
      continue;
    }
    if (n <= 0) return out;
    out.append(chunk, static_cast<std::size_t>(n));
  }
}

// A reader that never reads: a pipe (as stdout under a stalled log shipper) or a socket (as
// stdout under systemd). Writes must not block, drops are counted, and once the reader reads
// again what was kept is delivered, in whole lines.
class JsonlSlowReaderTest : public JsonlFileWriterTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    JsonlFileWriterTest::SetUp();
    const bool socket = GetParam();
    ASSERT_EQ(socket ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) : ::pipe2(fds, O_CLOEXEC), 0);
  }
  void TearDown() override {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    JsonlFileWriterTest::TearDown();
  }
  int fds[2] = {-1, -1};  // [0] the reader's end, [1] the writer's
};

TEST_P(JsonlSlowReaderTest, NeverBlocksCountsDropsAndResumesWhenRead) {
  ManualTimeSource time;
  testing::CapturedLog log("exporter");
  const std::string line = "{\"pad\":\"" + std::string(1000, 'x') + "\"}";
  std::string received;
  std::uint64_t accepted = 0;
  {
    JsonlFileWriter w({.max_buffer_bytes = 64u << 10, .flush_threshold_bytes = 1, .fd = fds[1],
                       .close_timeout = 0s, .time = &time});
    EXPECT_EQ(::fcntl(fds[1], F_GETFL) & O_NONBLOCK, 0) << "the shared descriptor's flags are not ours to change";
    // Far more than the pipe (or socket buffer) plus our buffer hold. Run on a thread so that a
    // write that blocks fails the test instead of hanging it.
    auto writing = std::async(std::launch::async, [&] {
      for (int i = 0; i < 2000; ++i) accepted += w.write(line) ? 1 : 0;
    });
    if (writing.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "write() blocked on a reader that does not read";
      while (writing.wait_for(10ms) != std::future_status::ready) received += read_available(fds[0]);
      return;
    }
    EXPECT_GT(w.lines_dropped(), 0u);
    EXPECT_EQ(accepted + w.lines_dropped(), 2000u);
    EXPECT_GT(w.pending_bytes(), 0u);
    EXPECT_LE(w.pending_bytes(), 64u << 10);
    auto warnings = log.warnings_with("line(s) since the last warning");
    ASSERT_EQ(warnings.size(), 1u) << "one warning for the whole burst";
    EXPECT_NE(warnings[0].find("dropped 1 line(s)"), std::string::npos) << warnings[0];
    const auto dropped = w.lines_dropped();
    EXPECT_FALSE(w.write(line));
    EXPECT_EQ(log.warnings_with("line(s) since the last warning").size(), 1u);
    time.advance(10s);
    EXPECT_FALSE(w.write(line));
    warnings = log.warnings_with("line(s) since the last warning");
    ASSERT_EQ(warnings.size(), 2u);
    EXPECT_NE(warnings[1].find("dropped " + std::to_string(dropped - 1 + 2) + " line(s)"), std::string::npos)
        << warnings[1];

    // The reader catches up: each flush hands over what it has room for, until nothing waits.
    for (int i = 0; i < 1000 && w.pending_bytes() > 0; ++i) {
      received += read_available(fds[0]);
      w.flush();
    }
    EXPECT_EQ(w.pending_bytes(), 0u);
    received += read_available(fds[0]);
    EXPECT_EQ(w.lines_written(), accepted);
    EXPECT_TRUE(w.write(R"({"after":1})"));
    EXPECT_TRUE(w.flush());
    received += read_available(fds[0]);
  }
  std::istringstream lines(received);
  std::string got, last;
  std::uint64_t n = 0;
  while (std::getline(lines, got)) {
    if (++n <= accepted) {
      EXPECT_EQ(got, line) << "line " << n << " is torn";
    }
    last = got;
  }
  EXPECT_EQ(n, accepted + 1);
  EXPECT_EQ(last, R"({"after":1})");
}

TEST_P(JsonlSlowReaderTest, AReaderThatGoesAwayIsAWriteErrorNotASignal) {
  JsonlFileWriter w({.fd = fds[1], .close_timeout = 0s});
  ::close(fds[0]);
  fds[0] = -1;
  EXPECT_TRUE(w.write(R"({"a":1})"));
  EXPECT_FALSE(w.flush());  // EPIPE, and the process is still here
  EXPECT_EQ(w.lines_dropped(), 1u);
  EXPECT_EQ(w.pending_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(PipeAndSocket, JsonlSlowReaderTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Socket" : "Pipe"; });

TEST_F(JsonlFileWriterTest, ARegularFileGivenAsADescriptorIsWrittenAsBefore) {
  const auto path = dir / "fd.jsonl";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  {
    JsonlFileWriter w({.flush_threshold_bytes = 1, .fd = fd});
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(w.write("{\"i\":" + std::to_string(i) + "}"));
    EXPECT_EQ(w.lines_written(), 3u);
    EXPECT_EQ(w.pending_bytes(), 0u);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), FD_CLOEXEC) << "an inherited descriptor is not closed";
  ::close(fd);
  EXPECT_EQ(slurp(path), "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n");
}

}  // namespace
}  // namespace porthole::telemetry

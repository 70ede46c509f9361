#include "porthole/telemetry/jsonl_file_writer.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace porthole::telemetry {
namespace {

namespace fs = std::filesystem;

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

}  // namespace
}  // namespace porthole::telemetry

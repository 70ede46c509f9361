#include "porthole/agent/line_splitter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace porthole::agent {
namespace {

using ::testing::ElementsAre;

struct Collected {
  std::vector<std::string> lines;
  std::vector<bool> split;
};

Collected run(LineSplitter& s, const std::vector<std::string>& chunks, bool finish = true) {
  Collected c;
  auto emit = [&](std::string line, bool split) {
    c.lines.push_back(std::move(line));
    c.split.push_back(split);
  };
  for (const auto& chunk : chunks) s.feed(chunk, emit);
  if (finish) s.finish(emit);
  return c;
}

TEST(LineSplitter, LinesAcrossReadsCrlfAndAFinalLineWithoutNewline) {
  LineSplitter s(100);
  auto c = run(s, {"one\ntw", "o\r\n", "\nthree"});
  EXPECT_THAT(c.lines, ElementsAre("one", "two", "", "three"));
  EXPECT_THAT(c.split, ElementsAre(false, false, false, false));
}

TEST(LineSplitter, LongLinesArePiecesOfAtMostMax) {
  LineSplitter s(10);
  auto c = run(s, {std::string(15, 'x'), std::string(10, 'y') + "\nz\n"});
  EXPECT_THAT(c.lines, ElementsAre(std::string(10, 'x'), std::string(5, 'x') + std::string(5, 'y'),
                                   std::string(5, 'y'), "z"));
  EXPECT_THAT(c.split, ElementsAre(true, true, false, false));
}

TEST(LineSplitter, ALineOfExactlyMaxIsNotSplit) {
  LineSplitter s(10);
  auto c = run(s, {std::string(10, 'x') + "\n"});
  EXPECT_THAT(c.lines, ElementsAre(std::string(10, 'x')));
  EXPECT_THAT(c.split, ElementsAre(false));
}

TEST(LineSplitter, CutsAtACharacterBoundary) {
  LineSplitter s(10);
  // 9 ASCII bytes, then "é" (2 bytes): the cut goes before the é, not through it.
  auto c = run(s, {std::string(9, 'a') + "\xC3\xA9" + "b\n"});
  EXPECT_THAT(c.lines, ElementsAre(std::string(9, 'a'), "\xC3\xA9" "b"));
}

TEST(LineSplitter, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(LineSplitter::valid_utf8("ok\xFF\xC3"), "ok\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(LineSplitter::valid_utf8("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong NUL
  EXPECT_EQ(LineSplitter::valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(LineSplitter::valid_utf8("\xF0\x9F\x98\x80 \xE2\x82\xAC"), "\xF0\x9F\x98\x80 \xE2\x82\xAC");
}

}  // namespace
}  // namespace porthole::agent

#include "porthole/relay/frame.hpp"

#include <gtest/gtest.h>

#include <random>

namespace porthole::relay {
namespace {

FrameLimits limits() { return FrameLimits::of(1024, {1, 2, 3}); }

std::string frames(std::initializer_list<std::pair<std::uint8_t, std::string>> list) {
  std::string out;
  for (const auto& [t, p] : list) encode_frame(t, p, out);
  return out;
}

TEST(FrameCodec, HeaderIsBigEndianLengthThenType) {
  std::string out;
  encode_frame(2, "abc", out);
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out.substr(0, 5), std::string("\x00\x00\x00\x03\x02", 5));
  EXPECT_EQ(out.substr(5), "abc");
}

TEST(FrameCodec, RoundTripsFramesFedOneByteAtATime) {
  const auto wire = frames({{1, "hello"}, {2, ""}, {3, std::string(1024, 'x')}});
  FrameDecoder d(limits());
  std::vector<Frame> got;
  for (char c : wire) {
    d.feed(&c, 1);
    while (auto f = d.next()) got.push_back(std::move(*f));
  }
  d.finish();
  EXPECT_FALSE(d.error());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, 1);
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_EQ(got[1].payload, "");
  EXPECT_EQ(got[2].payload.size(), 1024u);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameCodec, RoundTripsRandomChunking) {
  std::mt19937 rng(42);
  std::string wire;
  std::vector<std::string> sent;
  for (int i = 0; i < 200; ++i) {
    sent.emplace_back(rng() % 1025, static_cast<char>('a' + i % 26));
    encode_frame(static_cast<std::uint8_t>(1 + i % 3), sent.back(), wire);
  }
  FrameDecoder d(limits());
  std::size_t pos = 0, n = 0;
  while (pos < wire.size()) {
    const auto chunk = std::min<std::size_t>(wire.size() - pos, 1 + rng() % 3000);
    d.feed(wire.data() + pos, chunk);
    pos += chunk;
    while (auto f = d.next()) ASSERT_EQ(f->payload, sent[n++]);
  }
  EXPECT_EQ(n, sent.size());
}

TEST(FrameCodec, OversizedIsRejectedFromTheHeaderAlone) {
  FrameDecoder d(limits());
  const char header[] = {0x00, 0x00, 0x04, 0x01, 0x01};  // 1025 bytes, one over
  d.feed(header, sizeof header);
  EXPECT_FALSE(d.next());
  ASSERT_TRUE(d.error());
  EXPECT_EQ(*d.error(), FrameError::Oversized);
  EXPECT_EQ(d.error_detail(), "frame of 1025 bytes exceeds the channel limit of 1024");
  EXPECT_EQ(d.buffered(), 0u);  // nothing of it is kept
}

TEST(FrameCodec, HugeLengthDoesNotAllocate) {
  FrameDecoder d(limits());
  const char header[] = {'\xff', '\xff', '\xff', '\xff', 0x01};
  d.feed(header, sizeof header);
  EXPECT_FALSE(d.next());
  EXPECT_EQ(*d.error(), FrameError::Oversized);
}

TEST(FrameCodec, UnknownTypeIsRejected) {
  FrameDecoder d(limits());
  const auto wire = frames({{1, "ok"}, {9, "bad"}});
  d.feed(wire.data(), wire.size());
  ASSERT_TRUE(d.next());
  EXPECT_FALSE(d.next());
  EXPECT_EQ(*d.error(), FrameError::UnknownType);
  EXPECT_EQ(d.error_detail(), "unknown frame type 9");
}

TEST(FrameCodec, TruncatedAtEndOfStream) {
  for (std::size_t cut : {1u, 4u, 5u, 7u}) {
    FrameDecoder d(limits());
    const auto wire = frames({{1, "hello"}});
    d.feed(wire.data(), cut);
    EXPECT_FALSE(d.next());
    EXPECT_FALSE(d.error());
    d.finish();
    ASSERT_TRUE(d.error()) << cut;
    EXPECT_EQ(*d.error(), FrameError::Truncated);
  }
  FrameDecoder clean(limits());
  clean.finish();
  EXPECT_FALSE(clean.error());
}

TEST(FrameCodec, ErrorIsStickyAndDropsLaterInput) {
  FrameDecoder d(limits());
  const auto bad = frames({{7, ""}});
  d.feed(bad.data(), bad.size());
  EXPECT_FALSE(d.next());
  const auto good = frames({{1, "x"}});
  d.feed(good.data(), good.size());
  EXPECT_FALSE(d.next());
  EXPECT_EQ(*d.error(), FrameError::UnknownType);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameCodec, BufferStaysBoundedOverALongStream) {
  FrameDecoder d(limits());
  const auto wire = frames({{1, std::string(1000, 'z')}});
  for (int i = 0; i < 10'000; ++i) {
    d.feed(wire.data(), wire.size());
    ASSERT_TRUE(d.next());
  }
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameCodec, ErrorNames) {
  EXPECT_EQ(to_string(FrameError::Oversized), "oversized");
  EXPECT_EQ(to_string(FrameError::UnknownType), "unknown_type");
  EXPECT_EQ(to_string(FrameError::Truncated), "truncated");
  EXPECT_EQ(to_string(FrameError::Malformed), "malformed");
}

}  // namespace
}  // namespace porthole::relay

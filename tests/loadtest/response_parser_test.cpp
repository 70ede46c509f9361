#include "response_parser.hpp"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

struct Parsed {
  ResponseParser::Result result = ResponseParser::Result::NeedMore;
  unsigned status = 0;
  bool keep_alive = false;
  std::uint64_t body = 0;
  std::size_t used = 0;  // of the input
  std::string error;
};

// Feeds `wire` in pieces of `piece` bytes (0: all at once) the way SocketExchange does: what was
// not used stays buffered and is offered again with the next piece.
Parsed parse(const std::string& wire, std::size_t piece = 0, bool head = false, bool eof = false) {
  ResponseParser p;
  p.reset(head);
  std::string buffered;
  Parsed out;
  std::size_t offered = 0;
  while (true) {
    const std::size_t n = piece == 0 ? wire.size() - offered : std::min(piece, wire.size() - offered);
    buffered.append(wire, offered, n);
    offered += n;
    std::size_t used = 0;
    out.result = p.feed(buffered, used);
    out.used += used;
    buffered.erase(0, used);
    if (out.result != ResponseParser::Result::NeedMore || offered == wire.size()) break;
  }
  if (out.result == ResponseParser::Result::NeedMore && eof) out.result = p.feed_eof();
  out.status = p.status();
  out.keep_alive = p.keep_alive();
  out.body = p.body_bytes();
  out.error = std::string(p.error());
  return out;
}

using R = ResponseParser::Result;

TEST(ResponseParser, ContentLengthKeepAliveAndWhatFollowsIsLeft) {
  const std::string one = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
  const auto r = parse(one + "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(r.result, R::Done);
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.body, 3u);
  EXPECT_EQ(r.used, one.size());  // the next response is not touched
}

TEST(ResponseParser, EverySplitOfEveryFramingGivesTheSameResult) {
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n";
  const std::string length = "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 10\r\n\r\n0123456789";
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                              "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
  for (std::size_t piece = 1; piece <= 7; ++piece) {
    const auto c = parse(chunked, piece);
    EXPECT_EQ(c.result, R::Done) << piece << " " << c.error;
    EXPECT_EQ(c.body, 31u);
    EXPECT_EQ(c.used, chunked.size());
    EXPECT_TRUE(c.keep_alive);
    const auto l = parse(length, piece);
    EXPECT_EQ(l.result, R::Done) << piece;
    EXPECT_EQ(l.body, 10u);
    EXPECT_TRUE(l.keep_alive);  // HTTP/1.0 with keep-alive
    const auto i = parse(interim, piece);
    EXPECT_EQ(i.result, R::Done) << piece << " " << i.error;
    EXPECT_EQ(i.status, 201u);
    EXPECT_FALSE(i.keep_alive);
    EXPECT_EQ(i.body, 2u);
  }
}

TEST(ResponseParser, BodiesWithoutLengthEndAtTheClose) {
  const std::string wire = "HTTP/1.1 200 OK\r\n\r\nstreamed until the end";
  const auto open = parse(wire);
  EXPECT_EQ(open.result, R::NeedMore);
  const auto closed = parse(wire, 0, false, true);
  EXPECT_EQ(closed.result, R::Done);
  EXPECT_FALSE(closed.keep_alive);
  EXPECT_EQ(closed.body, 22u);
  // A coding other than chunked last: also until the close, Content-Length ignored.
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc", 0, false, true).body, 3u);
  // HTTP/1.0 closes by default.
  EXPECT_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  // Closed mid-body: an error.
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 0, false, true).result, R::Error);
}

TEST(ResponseParser, NoBodyForHeadAnd204And304) {
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0, true).result, R::Done);
  EXPECT_EQ(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n").result, R::Done);
  const auto r = parse("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.result, R::Done);
  EXPECT_FALSE(r.keep_alive);
}

TEST(ResponseParser, MalformedResponsesAreErrors) {
  for (const std::string bad : {
           "HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n", "SSH-2.0-OpenSSH\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
           "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
           "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\rY\r\n\r\n"}) {
    const auto r = parse(bad);
    EXPECT_EQ(r.result, R::Error) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  // Duplicate equal lengths are fine.
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na").result, R::Done);
}

TEST(ResponseParser, HeadsAreBounded) {
  std::string huge = "HTTP/1.1 200 OK\r\n";
  while (huge.size() <= ResponseParser::kMaxHead) huge += "X-Filler: " + std::string(100, 'a') + "\r\n";
  const auto incomplete = parse(huge, 4096);
  EXPECT_EQ(incomplete.result, R::Error);
  EXPECT_EQ(incomplete.error, "response head larger than 64 KiB");
  EXPECT_EQ(parse(huge + "\r\n").result, R::Error);
}

TEST(ResponseParser, RandomBytesNeverCrashAndRandomSplitsAgree) {
  std::mt19937 rng(7);
  const std::string good = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n";
  for (int i = 0; i < 2000; ++i) {
    std::string wire = good;
    // Corrupt a few bytes; whatever comes out must come out the same for any split.
    for (int k = 0; k < 3; ++k) wire[rng() % wire.size()] = static_cast<char>(rng() % 256);
    const auto whole = parse(wire, 0, false, true);
    const auto split = parse(wire, 1 + rng() % 9, false, true);
    EXPECT_EQ(whole.result, split.result) << i;
    EXPECT_EQ(whole.body, split.body) << i;
    EXPECT_LE(whole.used, wire.size());
  }
}

}  // namespace
}  // namespace porthole::loadtest

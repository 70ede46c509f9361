#include "response_parser.hpp"

#include <algorithm>
#include <cstring>

namespace porthole::loadtest {

namespace {

constexpr unsigned kMaxChunkDigits = 15;      // < 2^60: no overflow
constexpr unsigned kMaxChunkLine = 4096;      // a chunk size line with extensions, a trailer line

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (c != lower[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls f(token) for every comma-separated token of a header value, trimmed.
template <class F>
void for_each_token(std::string_view value, F f) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    f(trim(value.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

void ResponseParser::reset(bool head_request) { *this = ResponseParser(); head_request_ = head_request; }

ResponseParser::Result ResponseParser::fail(const char* what) {
  error_ = what;
  return Result::Error;
}

bool ResponseParser::header(std::string_view name, std::string_view value) {
  if (name.size() != 14 && name.size() != 17 && name.size() != 10) return true;  // most are none of ours
  if (iequals(name, "content-length")) {
    if (value.empty() || value.size() > 19) return false;
    std::uint64_t n = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (has_length_ && n != remaining_) return false;  // two different lengths: a smuggling attempt or a bug
    has_length_ = true;
    remaining_ = n;
  } else if (iequals(name, "transfer-encoding")) {
    // The body is chunked only if chunked is the last coding; any other ends at the close.
    encoded_ = true;
    for_each_token(value, [this](std::string_view t) { chunked_ = iequals(t, "chunked"); });
  } else if (iequals(name, "connection")) {
    for_each_token(value, [this](std::string_view t) {
      if (iequals(t, "close")) keep_alive_ = false;
      if (iequals(t, "keep-alive")) keep_alive_ = true;
    });
  }
  return true;
}

bool ResponseParser::status_line(std::string_view line) {
  // HTTP/1.x SSS[ reason]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    return false;
  }
  keep_alive_ = line[7] == '1';  // HTTP/1.1 keeps the connection unless it says close; 1.0 the other way round
  status_ = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    status_ = status_ * 10 + static_cast<unsigned>(line[i] - '0');
  }
  return status_ >= 100;
}

ResponseParser::Result ResponseParser::end_of_head() {
  if (status_ < 200 && status_ != 101) {
    // Interim: the final response follows.
    reset(head_request_);
    return Result::NeedMore;
  }
  if (status_ == 101) {
    keep_alive_ = false;  // another protocol follows: not ours to read
    state_ = State::Done;
  } else if (head_request_ || status_ == 204 || status_ == 304) {
    state_ = State::Done;
  } else if (encoded_) {
    // Transfer-Encoding wins over Content-Length; a last coding other than chunked ends at the close.
    state_ = chunked_ ? State::ChunkSize : State::UntilClose;
    if (!chunked_) keep_alive_ = false;
  } else if (has_length_) {
    state_ = remaining_ == 0 ? State::Done : State::Body;
  } else {
    state_ = State::UntilClose;
    keep_alive_ = false;
  }
  return state_ == State::Done ? Result::Done : Result::NeedMore;
}

// One line at a time, each looked at once: `scanned_` is where the next unread line of the
// buffered head starts, so a head that arrives in pieces is never parsed twice.
ResponseParser::Result ResponseParser::parse_head(std::string_view data, std::size_t& head_size) {
  while (true) {
    if (scanned_ >= data.size()) return Result::NeedMore;
    const auto* nl = static_cast<const char*>(std::memchr(data.data() + scanned_, '\n', data.size() - scanned_));
    if (!nl) return data.size() > kMaxHead ? fail("response head larger than 64 KiB") : Result::NeedMore;
    const auto eol = static_cast<std::size_t>(nl - data.data());
    if (eol + 1 > kMaxHead) return fail("response head larger than 64 KiB");
    if (eol == scanned_ || data[eol - 1] != '\r') return fail("a head line without CRLF");
    const auto line = data.substr(scanned_, eol - 1 - scanned_);
    scanned_ = eol + 1;
    if (!status_done_) {
      if (!status_line(line)) return fail("bad status line");
      status_done_ = true;
    } else if (line.empty()) {
      head_size = scanned_;
      return end_of_head();
    } else {
      std::size_t colon = 0;
      for (; colon < line.size() && line[colon] != ':'; ++colon) {
        if (line[colon] == ' ' || line[colon] == '\t') return fail("bad header line");  // also a folded line
      }
      if (colon == 0 || colon == line.size()) return fail("bad header line");
      if (!header(line.substr(0, colon), trim(line.substr(colon + 1)))) return fail("bad Content-Length");
    }
  }
}

ResponseParser::Result ResponseParser::feed(std::string_view data, std::size_t& used) {
  while (true) {
    switch (state_) {
      case State::Head: {
        std::size_t head_size = 0;
        const auto r = parse_head(data, head_size);
        if (r == Result::Error || head_size == 0) return r;  // an error, or the head is not complete yet
        used += head_size;
        data.remove_prefix(head_size);
        scanned_ = 0;
        if (r == Result::Done) return r;
        continue;  // a body, or the head of the response after an interim one
      }
      case State::Body: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        body_bytes_ += n;
        remaining_ -= n;
        used += n;
        if (remaining_ != 0) return Result::NeedMore;
        state_ = State::Done;
        return Result::Done;
      }
      case State::UntilClose:
        body_bytes_ += data.size();
        used += data.size();
        return Result::NeedMore;
      case State::ChunkData: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        body_bytes_ += n;
        remaining_ -= n;
        used += n;
        data.remove_prefix(n);
        if (remaining_ != 0) return Result::NeedMore;
        state_ = State::ChunkDataEnd;
        continue;
      }
      case State::Done:
        return Result::Done;
      default:
        break;
    }
    // Chunk framing, a byte at a time (a few bytes per chunk).
    if (data.empty()) return Result::NeedMore;
    const char c = data.front();
    data.remove_prefix(1);
    ++used;
    switch (state_) {
      case State::ChunkSize:
        if (const int v = hex_value(c); v >= 0 && !saw_cr_) {
          if (++chunk_digits_ > kMaxChunkDigits) return fail("chunk size too large");
          remaining_ = remaining_ * 16 + static_cast<unsigned>(v);
        } else if ((c == ';' || c == ' ' || c == '\t') && chunk_digits_ != 0 && !saw_cr_) {
          state_ = State::ChunkExtension;
          line_bytes_ = 0;
        } else if (c == '\r' && chunk_digits_ != 0 && !saw_cr_) {
          saw_cr_ = true;
        } else if (c == '\n' && saw_cr_) {
          saw_cr_ = false;
          chunk_digits_ = 0;
          state_ = remaining_ == 0 ? State::Trailer : State::ChunkData;
          line_bytes_ = 0;
        } else {
          return fail("bad chunk size line");
        }
        break;
      case State::ChunkExtension:
        if (++line_bytes_ > kMaxChunkLine) return fail("chunk extension too long");
        if (c == '\n') {
          if (!saw_cr_) return fail("bad chunk size line");
          saw_cr_ = false;
          chunk_digits_ = 0;
          state_ = remaining_ == 0 ? State::Trailer : State::ChunkData;
          line_bytes_ = 0;
        } else {
          saw_cr_ = c == '\r';
        }
        break;
      case State::ChunkDataEnd:
        if (c == '\r' && !saw_cr_) {
          saw_cr_ = true;
        } else if (c == '\n' && saw_cr_) {
          saw_cr_ = false;
          state_ = State::ChunkSize;
        } else {
          return fail("chunk data not followed by CRLF");
        }
        break;
      case State::Trailer:
        if (c == '\n') {
          if (!saw_cr_) return fail("bad trailer line");
          saw_cr_ = false;
          if (line_bytes_ == 0) {
            state_ = State::Done;
            return Result::Done;
          }
          line_bytes_ = 0;
        } else if (c == '\r' && !saw_cr_) {
          saw_cr_ = true;
        } else {
          if (saw_cr_) return fail("bad trailer line");
          if (++line_bytes_ > kMaxChunkLine) return fail("trailer line too long");
        }
        break;
      default:
        return fail("parser state");
    }
  }
}

ResponseParser::Result ResponseParser::feed_eof() {
  if (state_ == State::UntilClose || state_ == State::Done) {
    state_ = State::Done;
    return Result::Done;
  }
  return fail("the connection closed before the response was complete");
}

}  // namespace porthole::loadtest

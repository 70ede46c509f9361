// An incremental HTTP/1.x response parser that keeps only what the load generator needs: the
// status, the body's framing (Content-Length, chunked, or up to the end of the connection) and
// whether the connection stays open. Bodies are counted, never stored; header names other than
// Content-Length, Transfer-Encoding and Connection are skipped without being looked up. It is a
// fraction of the cost of a general parser per response, and the generator must be cheaper than
// the servers it measures. Interim 1xx responses (100 Continue, 103 Early Hints) are skipped.
// The input is the server's and untrusted: limits are enforced and anything malformed is an
// error, never undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace porthole::loadtest {

class ResponseParser {
 public:
  enum class Result { NeedMore, Done, Error };
  static constexpr std::size_t kMaxHead = 64 * 1024;

  // Ready for the response to a request (HEAD: no body, whatever the headers say).
  void reset(bool head_request);

  // Consumes from `data` what belongs to this response (bytes after it are left for the next)
  // and adds the count to `used`. A head is only consumed once it is complete: until then
  // NeedMore with nothing used, and the caller offers the same bytes again with more after them.
  Result feed(std::string_view data, std::size_t& used);
  // The connection ended: completes a body delimited by its end.
  Result feed_eof();

  unsigned status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  bool head_done() const { return state_ != State::Head; }
  std::uint64_t body_bytes() const { return body_bytes_; }
  std::string_view error() const { return error_; }

 private:
  enum class State { Head, Body, UntilClose, ChunkSize, ChunkExtension, ChunkData, ChunkDataEnd, Trailer, Done };

  // NeedMore with head_size 0 until the head is complete; then its size.
  Result parse_head(std::string_view data, std::size_t& head_size);
  bool status_line(std::string_view line);
  bool header(std::string_view name, std::string_view value);
  Result end_of_head();
  Result fail(const char* what);

  State state_ = State::Head;
  bool head_request_ = false;
  std::size_t scanned_ = 0;  // of the buffered head: where its next unread line starts
  bool status_done_ = false;
  unsigned status_ = 0;
  bool keep_alive_ = true;
  bool encoded_ = false;  // a Transfer-Encoding header
  bool chunked_ = false;   // ... whose last coding is chunked
  bool has_length_ = false;
  std::uint64_t remaining_ = 0;  // of the body or the chunk
  std::uint64_t body_bytes_ = 0;
  unsigned chunk_digits_ = 0;
  unsigned line_bytes_ = 0;      // trailer: bytes of the current line, CR excluded
  bool saw_cr_ = false;          // chunk size/data end/trailer: the CR of a CRLF was seen
  const char* error_ = "";
};

}  // namespace porthole::loadtest

// The debugging exporter's sink: appends one JSON object per line to a file, or to stdout
// when the path is "-". Lines are buffered up to a bound (beyond it they are dropped and
// counted), reopen() follows logrotate (call it on SIGHUP), and optional size-based rotation
// keeps `path.1` .. `path.N`. The caller formats the records; this class only writes lines.
//
// It never blocks its caller (the sidecar's io thread, which also relays ingress, egress and
// NTP) on a slow reader: a pipe, FIFO, terminal or socket is written without blocking (through
// a descriptor of its own, so stdout's flags, which stderr may share, are left alone), and what
// the reader has not taken yet stays in the bounded buffer until the next write()/flush(). When
// the buffer is full, new lines are dropped, counted and warned about (at most one line every
// 10 s). Regular files are written as before: the kernel does not make those wait for a reader.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "porthole/common/time.hpp"
#include "porthole/common/warning_limiter.hpp"

namespace porthole::telemetry {

struct JsonlFileWriterConfig {
  std::string path = "-";                       // "-" = stdout
  std::uint64_t max_buffer_bytes = 1u << 20;    // lines not yet written (waiting for flush() or
                                                // for a slow reader); beyond: dropped
  std::uint64_t flush_threshold_bytes = 64u << 10;  // write() flushes once this much is waiting
  std::uint64_t rotate_bytes = 0;               // 0 = never rotate; else rotate before exceeding
  unsigned keep_files = 3;                      // rotated files kept (path.1 newest)
  int fd = -1;  // >= 0: write to this inherited descriptor instead of `path` (never closed or
                // rotated); "-" means fd 1. For tests and embedding.
  Duration close_timeout = std::chrono::seconds(1);  // the destructor waits this long at most
                                                     // for a slow reader to take what is left
  TimeSource* time = nullptr;  // paces the warnings; null: the steady clock
};

class JsonlFileWriter {
 public:
  // Opens (creating, appending) the file; throws std::runtime_error naming the path and the
  // OS error when it cannot.
  explicit JsonlFileWriter(JsonlFileWriterConfig config);
  ~JsonlFileWriter();  // flushes, waiting at most close_timeout for a slow reader
  JsonlFileWriter(const JsonlFileWriter&) = delete;
  JsonlFileWriter& operator=(const JsonlFileWriter&) = delete;

  // Queues one line; `json` must be one serialised JSON value. A value containing a newline
  // would split the record, so it is refused (counted as invalid). Returns false when dropped.
  bool write(std::string_view json);
  // Writes what the output takes now. Returns true when nothing is left waiting; false when a
  // slow reader left some waiting (kept, tried again on the next write()/flush()) or on a write
  // error (the buffered lines are dropped and counted; the next flush tries the same output).
  bool flush();
  // Closes and reopens the path (after logrotate moved it). Returns false when it cannot;
  // writes keep going to the old file until a reopen succeeds. Stdout is not reopened.
  bool reopen();

  std::uint64_t lines_written() const { return lines_written_; }
  std::uint64_t lines_dropped() const { return lines_dropped_; }  // buffer full or write errors
  std::uint64_t lines_invalid() const { return lines_invalid_; }
  std::uint64_t rotations() const { return rotations_; }
  std::uint64_t pending_bytes() const { return buffer_.size() - written_; }  // not yet written

 private:
  // How the output is written: plainly (regular files), through a non-blocking descriptor of
  // our own (pipes, FIFOs, terminals), or with send(MSG_DONTWAIT) (sockets).
  enum class Mode { Plain, NonBlocking, Socket };

  bool open(std::string& error);
  bool open_inherited(int fd, std::string& error);
  void rotate_if_needed(std::uint64_t incoming);
  long write_some(const char* data, std::size_t size);
  void took(std::size_t bytes);
  void drop_buffer(const char* why);
  void warn_dropped(std::uint64_t lines);
  MonoTime now() const;

  JsonlFileWriterConfig config_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool rotatable_ = false;  // a regular file we opened by path
  Mode mode_ = Mode::Plain;
  std::uint64_t file_bytes_ = 0;
  std::string buffer_;
  std::size_t written_ = 0;  // bytes at the front of buffer_ already written
  std::uint64_t buffered_lines_ = 0;  // lines (whole or partly) not yet written
  std::uint64_t lines_written_ = 0;
  std::uint64_t lines_dropped_ = 0;
  std::uint64_t lines_invalid_ = 0;
  std::uint64_t rotations_ = 0;
  std::unique_ptr<WarningLimiter> full_warnings_;
  std::unique_ptr<WarningLimiter> error_warnings_;
};

}  // namespace porthole::telemetry

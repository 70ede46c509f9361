// The debugging exporter's sink: appends one JSON object per line to a file, or to stdout
// when the path is "-". Lines are buffered up to a bound (beyond it they are dropped and
// counted), reopen() follows logrotate (call it on SIGHUP), and optional size-based rotation
// keeps `path.1` .. `path.N`. The caller formats the records; this class only writes lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace porthole::telemetry {

struct JsonlFileWriterConfig {
  std::string path = "-";                       // "-" = stdout
  std::uint64_t max_buffer_bytes = 1u << 20;    // lines waiting for flush(); beyond: dropped
  std::uint64_t flush_threshold_bytes = 64u << 10;  // write() flushes once this much is waiting
  std::uint64_t rotate_bytes = 0;               // 0 = never rotate; else rotate before exceeding
  unsigned keep_files = 3;                      // rotated files kept (path.1 newest)
};

class JsonlFileWriter {
 public:
  // Opens (creating, appending) the file; throws std::runtime_error naming the path and the
  // OS error when it cannot.
  explicit JsonlFileWriter(JsonlFileWriterConfig config);
  ~JsonlFileWriter();  // flushes
  JsonlFileWriter(const JsonlFileWriter&) = delete;
  JsonlFileWriter& operator=(const JsonlFileWriter&) = delete;

  // Queues one line; `json` must be one serialised JSON value. A value containing a newline
  // would split the record, so it is refused (counted as invalid). Returns false when dropped.
  bool write(std::string_view json);
  // Writes everything buffered. Returns false on a write error (the lines are dropped and
  // counted; the next flush tries again on the same file).
  bool flush();
  // Closes and reopens the path (after logrotate moved it). Returns false when it cannot;
  // writes keep going to the old file until a reopen succeeds.
  bool reopen();

  std::uint64_t lines_written() const { return lines_written_; }
  std::uint64_t lines_dropped() const { return lines_dropped_; }  // buffer full or write errors
  std::uint64_t lines_invalid() const { return lines_invalid_; }
  std::uint64_t rotations() const { return rotations_; }

 private:
  bool open(std::string& error);
  void rotate_if_needed(std::uint64_t incoming);

  JsonlFileWriterConfig config_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::uint64_t file_bytes_ = 0;
  std::string buffer_;
  std::uint64_t buffered_lines_ = 0;
  std::uint64_t lines_written_ = 0;
  std::uint64_t lines_dropped_ = 0;
  std::uint64_t lines_invalid_ = 0;
  std::uint64_t rotations_ = 0;
};

}  // namespace porthole::telemetry

#include "porthole/telemetry/jsonl_file_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "porthole/common/logging.hpp"

namespace porthole::telemetry {

JsonlFileWriter::JsonlFileWriter(JsonlFileWriterConfig config) : config_(std::move(config)) {
  std::string error;
  if (!open(error)) throw std::runtime_error(error);
}

JsonlFileWriter::~JsonlFileWriter() {
  flush();
  if (owns_fd_) ::close(fd_);
}

bool JsonlFileWriter::open(std::string& error) {
  if (config_.path == "-") {
    fd_ = STDOUT_FILENO;
    owns_fd_ = false;
    file_bytes_ = 0;
    return true;
  }
  const int fd = ::open(config_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot open '" + config_.path + "' for appending JSON lines: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  file_bytes_ = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  if (owns_fd_) ::close(fd_);
  fd_ = fd;
  owns_fd_ = true;
  return true;
}

bool JsonlFileWriter::write(std::string_view json) {
  if (json.find('\n') != std::string_view::npos || json.find('\r') != std::string_view::npos) {
    ++lines_invalid_;
    return false;
  }
  if (buffer_.size() + json.size() + 1 > config_.max_buffer_bytes) {
    ++lines_dropped_;
    return false;
  }
  buffer_.append(json);
  buffer_ += '\n';
  ++buffered_lines_;
  if (buffer_.size() >= config_.flush_threshold_bytes) flush();
  return true;
}

void JsonlFileWriter::rotate_if_needed(std::uint64_t incoming) {
  if (config_.rotate_bytes == 0 || !owns_fd_ || file_bytes_ == 0 || file_bytes_ + incoming <= config_.rotate_bytes) {
    return;
  }
  // path.(N-1) -> path.N, ..., path -> path.1; the oldest falls off the end.
  for (unsigned i = config_.keep_files; i >= 1; --i) {
    const std::string from = i == 1 ? config_.path : config_.path + "." + std::to_string(i - 1);
    const std::string to = config_.path + "." + std::to_string(i);
    ::rename(from.c_str(), to.c_str());  // a missing older file is fine
  }
  if (config_.keep_files == 0) ::unlink(config_.path.c_str());
  std::string error;
  if (open(error)) {
    ++rotations_;
  } else {
    logger("exporter")->warn("JSON-lines rotation: {}", error);
  }
}

bool JsonlFileWriter::flush() {
  if (buffer_.empty()) return true;
  rotate_if_needed(buffer_.size());
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      logger("exporter")->warn("writing JSON lines to '{}' failed: {}; {} lines dropped", config_.path,
                               std::strerror(errno), buffered_lines_);
      lines_dropped_ += buffered_lines_;
      buffer_.clear();
      buffered_lines_ = 0;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  file_bytes_ += buffer_.size();
  lines_written_ += buffered_lines_;
  buffer_.clear();
  buffered_lines_ = 0;
  return true;
}

bool JsonlFileWriter::reopen() {
  flush();
  std::string error;
  if (open(error)) return true;
  logger("exporter")->warn("reopening JSON-lines file: {}", error);
  return false;
}

}  // namespace porthole::telemetry

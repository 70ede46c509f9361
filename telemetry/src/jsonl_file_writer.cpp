#include "porthole/telemetry/jsonl_file_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "porthole/common/logging.hpp"
#include "porthole/common/warning_limiter.hpp"

namespace porthole::telemetry {
namespace {

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

// A reader that goes away must be a counted write error (EPIPE), not a SIGPIPE that kills the
// sidecar. Sockets get MSG_NOSIGNAL instead; pipes have no such flag.
void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

}  // namespace

JsonlFileWriter::JsonlFileWriter(JsonlFileWriterConfig config)
    : config_(std::move(config)),
      full_warnings_(std::make_unique<WarningLimiter>()),
      error_warnings_(std::make_unique<WarningLimiter>()) {
  std::string error;
  if (!open(error)) throw std::runtime_error(error);
}

JsonlFileWriter::~JsonlFileWriter() {
  // Last chance for a slow reader: wait (bounded) for it rather than drop at once.
  const auto deadline = MonoClock::now() + config_.close_timeout;
  while (!flush() && pending_bytes() > 0 && mode_ != Mode::Plain) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - MonoClock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0 && errno != EINTR) break;
  }
  if (pending_bytes() > 0) drop_buffer("the reader did not take them before shutdown");
  if (owns_fd_) ::close(fd_);
}

MonoTime JsonlFileWriter::now() const { return config_.time ? config_.time->now() : MonoClock::now(); }

bool JsonlFileWriter::open(std::string& error) {
  if (config_.fd >= 0 || config_.path == "-") return open_inherited(config_.fd >= 0 ? config_.fd : STDOUT_FILENO, error);
  const int fd = ::open(config_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot open '" + config_.path + "' for appending JSON lines: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  ::fstat(fd, &st);
  const bool regular = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
  // A FIFO or a device: the description is ours alone, so it may be made non-blocking.
  if (!regular) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ignore_sigpipe();
  }
  if (owns_fd_) ::close(fd_);
  fd_ = fd;
  owns_fd_ = true;
  rotatable_ = S_ISREG(st.st_mode);
  mode_ = regular ? Mode::Plain : Mode::NonBlocking;
  file_bytes_ = regular ? static_cast<std::uint64_t>(st.st_size) : 0;
  return true;
}

// stdout (or a descriptor given in the config) is shared: with stderr, with the shell that
// started us. Setting O_NONBLOCK on it would change it for all of them (and a terminal left
// non-blocking breaks the shell), so a pipe or terminal is reopened through /proc into a
// description of our own, and a socket is written with MSG_DONTWAIT.
bool JsonlFileWriter::open_inherited(int fd, std::string& error) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = "cannot write JSON lines to descriptor " + std::to_string(fd) + ": " + std::strerror(errno);
    return false;
  }
  fd_ = fd;
  owns_fd_ = false;
  rotatable_ = false;
  file_bytes_ = 0;
  if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
    mode_ = Mode::Plain;
    return true;
  }
  ignore_sigpipe();
  if (S_ISSOCK(st.st_mode)) {
    mode_ = Mode::Socket;
    return true;
  }
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  const int own = ::open(proc.c_str(), O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (own < 0) {
    mode_ = Mode::Plain;
    logger("exporter")->warn("JSON lines: cannot reopen descriptor {} without blocking ({}: {}); a reader that "
                             "stops reading will stall the sidecar",
                             fd, proc, std::strerror(errno));
    return true;
  }
  fd_ = own;
  owns_fd_ = true;
  mode_ = Mode::NonBlocking;
  return true;
}

bool JsonlFileWriter::write(std::string_view json) {
  if (json.find('\n') != std::string_view::npos || json.find('\r') != std::string_view::npos) {
    ++lines_invalid_;
    return false;
  }
  if (pending_bytes() + json.size() + 1 > config_.max_buffer_bytes) {
    ++lines_dropped_;
    if (const auto lines = full_warnings_->add(1, now())) warn_dropped(lines);
    return false;
  }
  buffer_.append(json);
  buffer_ += '\n';
  ++buffered_lines_;
  if (pending_bytes() >= config_.flush_threshold_bytes) flush();
  return true;
}

void JsonlFileWriter::warn_dropped(std::uint64_t lines) {
  logger("exporter")->warn("JSON lines to '{}': dropped {} line(s) since the last warning: {} bytes are waiting "
                           "for a reader that does not keep up (the buffer holds {})",
                           config_.path, lines, pending_bytes(), config_.max_buffer_bytes);
}

void JsonlFileWriter::rotate_if_needed(std::uint64_t incoming) {
  if (config_.rotate_bytes == 0 || !rotatable_ || file_bytes_ == 0 || file_bytes_ + incoming <= config_.rotate_bytes) {
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

long JsonlFileWriter::write_some(const char* data, std::size_t size) {
  if (mode_ == Mode::Socket) return ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  return ::write(fd_, data, size);
}

void JsonlFileWriter::took(std::size_t bytes) {
  const auto* begin = buffer_.data() + written_;
  const auto lines = static_cast<std::uint64_t>(std::count(begin, begin + bytes, '\n'));
  lines_written_ += lines;
  buffered_lines_ -= lines;
  file_bytes_ += bytes;
  written_ += bytes;
}

bool JsonlFileWriter::flush() {
  if (pending_bytes() == 0) return true;
  rotate_if_needed(pending_bytes());  // only regular files, which never leave part of a line
  while (pending_bytes() > 0) {
    const long n = write_some(buffer_.data() + written_, pending_bytes());
    if (n > 0) {
      took(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) {
      // The reader is slow: keep the rest (whole lines, or the tail of one) for later.
      buffer_.erase(0, written_);
      written_ = 0;
      return false;
    }
    drop_buffer(n < 0 ? std::strerror(errno) : "nothing written");
    return false;
  }
  buffer_.clear();
  written_ = 0;
  return true;
}

void JsonlFileWriter::drop_buffer(const char* why) {
  lines_dropped_ += buffered_lines_;
  if (const auto lines = error_warnings_->add(buffered_lines_, now())) {
    logger("exporter")->warn("writing JSON lines to '{}' failed ({}): dropped {} line(s) since the last warning",
                             config_.path, why, lines);
  }
  buffer_.clear();
  written_ = 0;
  buffered_lines_ = 0;
}

bool JsonlFileWriter::reopen() {
  flush();
  if (config_.fd >= 0 || config_.path == "-") return true;
  std::string error;
  if (open(error)) return true;
  logger("exporter")->warn("reopening JSON-lines file: {}", error);
  return false;
}

}  // namespace porthole::telemetry

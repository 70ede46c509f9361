// Cuts a byte stream (a workload's stdout or stderr) into lines of at most max_bytes: a longer
// line is emitted in pieces (each but the last flagged `split`), cut at a UTF-8 character
// boundary where one is near. "\r\n" ends a line like "\n". Bytes that are not valid UTF-8 are
// replaced with U+FFFD, since an OTLP log body is a protobuf string (UTF-8 by definition).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace porthole::agent {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_bytes) : max_(max_bytes < 8 ? 8 : max_bytes) {}

  // `emit(std::string line, bool split)` for every complete line (or piece) in `data`.
  template <class Emit>
  void feed(std::string_view data, Emit&& emit) {
    while (!data.empty()) {
      const auto newline = data.find('\n');
      // Bounded: partial_ never holds more than max_ plus one read's worth of bytes.
      partial_.append(data.substr(0, newline));
      while (partial_.size() > max_) {
        const auto cut = boundary(partial_, max_);
        emit(valid_utf8(std::string_view(partial_).substr(0, cut)), true);
        partial_.erase(0, cut);
      }
      if (newline == std::string_view::npos) return;
      if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
      emit(valid_utf8(partial_), false);
      partial_.clear();
      data.remove_prefix(newline + 1);
    }
  }

  // The last line when the stream ended without a newline.
  template <class Emit>
  void finish(Emit&& emit) {
    if (!partial_.empty()) emit(valid_utf8(partial_), false);
    partial_.clear();
  }

  // The largest cut <= max that does not split a UTF-8 sequence (max itself when none is near).
  static std::size_t boundary(std::string_view text, std::size_t max);
  // `text` with each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
  static std::string valid_utf8(std::string_view text);

 private:
  std::size_t max_;
  std::string partial_;
};

}  // namespace porthole::agent

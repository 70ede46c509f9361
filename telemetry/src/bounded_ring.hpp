// A fixed-capacity FIFO over a vector allocated once: pushing moves into an existing slot, so
// the batch processor's hot path does no allocation for the queue itself (std::deque allocates a
// node per element once elements are as large as a Span).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace porthole::telemetry {

template <class T>
class BoundedRing {
 public:
  explicit BoundedRing(std::size_t capacity) : slots_(capacity) {}

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == slots_.size(); }

  // Precondition: !full().
  void push_back(T&& value) {
    slots_[(head_ + size_) % slots_.size()] = std::move(value);
    ++size_;
  }
  void push_back(const T& value) {
    slots_[(head_ + size_) % slots_.size()] = value;
    ++size_;
  }
  T& front() { return slots_[head_]; }
  // Leaves the slot as it is: callers move the front out first, and a moved-from item holds
  // nothing (a moved-from shared_ptr is null, moved-from strings/vectors are empty).
  void pop_front() {
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }
  void clear() {
    for (auto& slot : slots_) slot = T{};
    head_ = size_ = 0;
  }

 private:
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace porthole::telemetry

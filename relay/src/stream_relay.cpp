#include "porthole/relay/stream_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <boost/asio/post.hpp>

namespace porthole::relay {
namespace {

bool peer_hung_up(Stream& s) {
  ::pollfd p{s.native_handle(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

}  // namespace

std::string_view to_string(RelayEnd e) {
  switch (e) {
    case RelayEnd::Closed: return "closed";
    case RelayEnd::Reset: return "reset";
    case RelayEnd::IdleTimeout: return "idle_timeout";
    case RelayEnd::Aborted: return "aborted";
  }
  return "unknown";
}

struct StreamRelay::Direction {
  Direction(Stream& from, Stream& to, bool upstream) : from(from), to(to), upstream(upstream) {}
  Stream& from;
  Stream& to;
  bool upstream;
  std::unique_ptr<char[]> buffer;  // only while bytes are in flight
  std::size_t buffer_size = 0;
  std::string pending;             // bytes to deliver before reading on: initial, or an observer's
  const char* out = nullptr;       // what write_now has still to write
  std::size_t out_left = 0;
  bool eof = false;
  bool eof_after_write = false;    // the source ended: half-close once `out` is written
  bool splice = false;             // this direction moves bytes with splice(2)
  std::optional<PipePool::Fallback> copying_because;  // a splicing direction copying this read
  Pipe pipe;                       // only while bytes are in flight
  std::size_t in_pipe = 0;         // bytes read into the pipe, not yet written out

  char* buffer_of(std::size_t size) {
    if (buffer_size < size) {
      // Not value-initialised: zeroing a buffer per read would cost as much as the copy.
      buffer.reset(new char[size]);
      buffer_size = size;
    }
    return buffer.get();
  }
  void release_buffer() {
    buffer.reset();
    buffer_size = 0;
  }
};

namespace {
// Reads (or splices) per turn on the io loop before yielding, so one busy stream cannot starve
// the others.
constexpr int kRoundsPerTurn = 16;

bool cannot_splice(int error) { return error == EINVAL || error == EOPNOTSUPP || error == ENOSYS; }
}  // namespace

std::shared_ptr<StreamRelay> StreamRelay::create(Stream a, Stream b, TimeSource& time, RelayOptions options,
                                                 Progress progress, Done done) {
  return std::shared_ptr<StreamRelay>(
      new StreamRelay(std::move(a), std::move(b), time, options, std::move(progress), std::move(done)));
}

StreamRelay::StreamRelay(Stream a, Stream b, TimeSource& time, RelayOptions options, Progress progress, Done done)
    : a_(std::move(a)),
      b_(std::move(b)),
      time_(time),
      options_(options),
      progress_(std::move(progress)),
      done_(std::move(done)),
      up_(std::make_unique<Direction>(a_, b_, true)),
      down_(std::make_unique<Direction>(b_, a_, false)),
      idle_timer_(time.make_timer()),
      last_activity_(time.now()) {}

// A relay that never finished (its io_context went away with its handlers) closes its sockets
// here; a pipe it still holds goes back to its pool by itself, closed (see Pipe).
StreamRelay::~StreamRelay() {
  boost::system::error_code ignored;
  a_.close(ignored);
  b_.close(ignored);
}

StreamRelay::Direction& StreamRelay::other(Direction& d) { return &d == up_.get() ? *down_ : *up_; }

std::size_t StreamRelay::buffer_bytes_held() const { return up_->buffer_size + down_->buffer_size; }

void StreamRelay::start(std::string to_b, std::string to_a) {
  boost::system::error_code ignored;
  a_.non_blocking(true, ignored);
  b_.non_blocking(true, ignored);
  if (options_.pipes && options_.pipes->enabled() && !options_.observer) up_->splice = down_->splice = true;
  arm_idle();
  for (auto [d, initial] : {std::pair{up_.get(), &to_b}, std::pair{down_.get(), &to_a}}) {
    d->pending = std::move(*initial);
    // From the io loop, so `done` is never called from inside start().
    boost::asio::post(d->to.get_executor(), [self = shared_from_this(), d = d] {
      if (self->finished_) return;
      if (d->pending.empty()) return self->pump(*d);
      if (self->write_now(*d, d->pending.data(), d->pending.size()) == Step::Again) self->pump(*d);
    });
  }
}

void StreamRelay::pump(Direction& d) {
  if (finished_) return;
  // Wait for bytes holding neither buffer nor pipe: an idle connection costs no memory and no
  // descriptors beyond its two sockets.
  d.release_buffer();
  if (d.pending.empty()) d.pending.shrink_to_fit();  // an observed stream's delivery buffer
  if (d.pipe) release_pipe(d);
  d.from.async_wait(Stream::wait_read, [self = shared_from_this(), &d](const boost::system::error_code& ec) {
    if (self->finished_) return;
    if (ec) return self->finish(RelayEnd::Aborted);
    self->read_now(d);
  });
}

void StreamRelay::read_now(Direction& d) {
  for (int round = 0; round < kRoundsPerTurn; ++round) {
    if (finished_) return;
    if ((d.splice ? splice_once(d) : copy_once(d)) == Step::Wait) return;
  }
  boost::asio::post(d.from.get_executor(), [self = shared_from_this(), &d] { self->read_now(d); });
}

void StreamRelay::count_read(Direction& d, std::size_t n) {
  last_activity_ = time_.now();
  if (progress_) progress_(d.upstream, n);
  (d.upstream ? result_.bytes_upstream : result_.bytes_downstream) += n;
  if (d.copying_because) options_.pipes->count_fallback(*d.copying_because);
}

StreamRelay::Step StreamRelay::copy_once(Direction& d) {
  char* buffer = d.buffer_of(options_.buffer_bytes);
  boost::system::error_code ec;
  const auto n = d.from.read_some(boost::asio::buffer(buffer, options_.buffer_bytes), ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    pump(d);
    return Step::Wait;
  }
  if (ec == boost::asio::error::eof) {
    d.release_buffer();
    end_of_stream(d);
    return Step::Wait;
  }
  if (ec) {
    finish(RelayEnd::Reset);
    return Step::Wait;
  }
  count_read(d, n);
  if (!options_.observer) return write_now(d, buffer, n);
  d.pending.clear();  // keeps its capacity while bytes flow; pump() frees it
  options_.observer->on_bytes(d.upstream, {buffer, n}, d.pending);
  if (d.pending.empty()) return Step::Again;  // held back (an incomplete HTTP head): read on
  return write_now(d, d.pending.data(), d.pending.size());
}

void StreamRelay::end_of_stream(Direction& d) {
  if (options_.observer) {
    std::string held;
    options_.observer->on_eof(d.upstream, held);
    if (!held.empty()) {
      // The bytes the observer held go first; the half-close follows them (continue_write).
      d.pending = std::move(held);
      d.eof_after_write = true;
      write_now(d, d.pending.data(), d.pending.size());
      return;
    }
  }
  on_eof(d);
}

void StreamRelay::on_eof(Direction& d) {
  // A vsock (or its Unix-socket emulation) carries no RST: a peer that aborts just closes.
  // A peer that closed both ways while we could still write to it has aborted; a peer that
  // half-closed (shutdown SHUT_WR) keeps its socket open. poll() tells them apart (POLLHUP).
  // On TCP a FIN never sets POLLHUP while our side is open, and a RST arrives as an error.
  if (!other(d).eof && peer_hung_up(d.from)) return finish(RelayEnd::Reset);
  half_close(d);
}

void StreamRelay::release_pipe(Direction& d) {
  options_.pipes->release(std::move(d.pipe), d.in_pipe == 0);
  d.in_pipe = 0;
}

// The kernel cannot splice this socket pair (EINVAL, ...): copy from now on, first handing on
// what is already in the pipe through a buffer.
StreamRelay::Step StreamRelay::fall_back_to_copy(Direction& d) {
  d.splice = false;
  d.copying_because = PipePool::Fallback::Unsupported;
  if (d.in_pipe == 0) {
    release_pipe(d);
    return copy_once(d);
  }
  char* buffer = d.buffer_of(std::max(d.in_pipe, options_.buffer_bytes));
  const auto n = ::read(d.pipe.read_fd(), buffer, d.in_pipe);
  if (n != static_cast<ssize_t>(d.in_pipe)) {
    finish(RelayEnd::Aborted);
    return Step::Wait;
  }
  d.in_pipe = 0;
  release_pipe(d);
  options_.pipes->count_fallback(PipePool::Fallback::Unsupported);  // these bytes went through the buffer
  return write_now(d, buffer, static_cast<std::size_t>(n));
}

StreamRelay::Step StreamRelay::splice_once(Direction& d) {
  if (!d.pipe) {
    PipePool::Fallback why = PipePool::Fallback::Exhausted;
    d.pipe = options_.pipes->acquire(&why);
    if (!d.pipe) {
      d.copying_because = why;  // this read copies, and is counted; the next one tries again
      return copy_once(d);
    }
    // A direction holds a pipe or a buffer, never both.
    d.copying_because.reset();
    d.release_buffer();
  }
  const auto n = ::splice(d.from.native_handle(), nullptr, d.pipe.write_fd(), nullptr, options_.pipes->capacity(),
                          SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    pump(d);
    return Step::Wait;
  }
  if (n < 0 && cannot_splice(errno)) return fall_back_to_copy(d);
  if (n < 0) {
    finish(RelayEnd::Reset);
    return Step::Wait;
  }
  if (n == 0) {
    release_pipe(d);
    on_eof(d);
    return Step::Wait;
  }
  d.in_pipe = static_cast<std::size_t>(n);
  count_read(d, d.in_pipe);
  return drain_pipe(d);
}

StreamRelay::Step StreamRelay::drain_pipe(Direction& d) {
  while (d.in_pipe > 0) {
    const auto m = ::splice(d.pipe.read_fd(), nullptr, d.to.native_handle(), nullptr, d.in_pipe,
                            SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (m > 0) {
      d.in_pipe -= static_cast<std::size_t>(m);
      last_activity_ = time_.now();  // progress, however slow the reader
      continue;
    }
    if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The reader is slow: wait for room, holding only the pipe (and its bytes).
      d.to.async_wait(Stream::wait_write, [self = shared_from_this(), &d](const boost::system::error_code& ec) {
        if (self->finished_) return;
        if (ec) return self->finish(RelayEnd::Reset);
        if (self->drain_pipe(d) == Step::Again) self->read_now(d);
      });
      return Step::Wait;
    }
    if (m < 0 && cannot_splice(errno)) return fall_back_to_copy(d);
    // EPIPE / ECONNRESET: the reader went away; tell the writer by resetting it too.
    finish(RelayEnd::Reset);
    return Step::Wait;
  }
  return Step::Again;
}

StreamRelay::Step StreamRelay::write_now(Direction& d, const char* data, std::size_t n) {
  d.out = data;
  d.out_left = n;
  return continue_write(d);
}

StreamRelay::Step StreamRelay::continue_write(Direction& d) {
  while (d.out_left > 0) {
    boost::system::error_code ec;
    const auto m = d.to.write_some(boost::asio::buffer(d.out, d.out_left), ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
      d.to.async_wait(Stream::wait_write, [self = shared_from_this(), &d](const boost::system::error_code& ec) {
        if (self->finished_) return;
        if (ec) return self->finish(RelayEnd::Reset);
        if (self->continue_write(d) == Step::Again) self->read_now(d);
      });
      return Step::Wait;
    }
    if (ec) {
      // The reader went away: tell the writer by resetting it too.
      finish(RelayEnd::Reset);
      return Step::Wait;
    }
    d.out += m;
    d.out_left -= m;
    last_activity_ = time_.now();  // progress, however slow the reader
  }
  d.out = nullptr;
  d.pending.clear();
  if (d.eof_after_write) {
    on_eof(d);
    return Step::Wait;
  }
  // While bytes flow, read again at once with the same buffer; it is released only when the
  // source has nothing more (pump), so a busy stream costs one read and one write per chunk.
  return Step::Again;
}

void StreamRelay::half_close(Direction& d) {
  d.eof = true;
  boost::system::error_code ignored;
  d.to.shutdown(Stream::shutdown_send, ignored);
  if (other(d).eof) finish(RelayEnd::Closed);
}

void StreamRelay::arm_idle() {
  const auto deadline = last_activity_ + options_.idle_timeout;
  const auto now = time_.now();
  std::weak_ptr<StreamRelay> weak = weak_from_this();
  idle_timer_->arm(deadline > now ? deadline - now : Duration::zero(), [weak] {
    auto self = weak.lock();
    if (!self || self->finished_) return;
    if (self->time_.now() - self->last_activity_ >= self->options_.idle_timeout) {
      return self->finish(RelayEnd::IdleTimeout);
    }
    self->arm_idle();
  });
}

void StreamRelay::abort() { finish(RelayEnd::Aborted); }

void StreamRelay::finish(RelayEnd end) {
  if (finished_) return;
  finished_ = true;
  idle_timer_->cancel();
  boost::system::error_code ignored;
  if (end != RelayEnd::Closed) {
    // An abort is propagated as an abort: RST, not FIN, so the far end cannot mistake a failure
    // for a complete response.
    const ::linger hard{1, 0};
    for (Stream* s : {&a_, &b_}) {
      if (s->is_open()) ::setsockopt(s->native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
  }
  a_.close(ignored);
  b_.close(ignored);
  for (Direction* d : {up_.get(), down_.get()}) {
    d->release_buffer();
    if (d->pipe) release_pipe(*d);
  }
  result_.end = end;
  auto done = std::move(done_);
  if (done) done(result_);
  if (options_.observer) options_.observer->on_end(result_);
}

}  // namespace porthole::relay

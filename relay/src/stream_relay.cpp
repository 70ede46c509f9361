#include "porthole/relay/stream_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

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
  std::string pending;             // the initial bytes to deliver first
  bool eof = false;
  bool splice = false;             // this direction moves bytes with splice(2)
  Pipe pipe;                       // only while bytes are in flight
  std::size_t in_pipe = 0;         // bytes read into the pipe, not yet written out
};

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

StreamRelay::~StreamRelay() {
  boost::system::error_code ignored;
  a_.close(ignored);
  b_.close(ignored);
}

StreamRelay::Direction& StreamRelay::other(Direction& d) { return &d == up_.get() ? *down_ : *up_; }

void StreamRelay::start(std::string to_b, std::string to_a) {
  boost::system::error_code ignored;
  a_.non_blocking(true, ignored);
  b_.non_blocking(true, ignored);
  if (options_.pipes && options_.pipes->enabled() && !options_.observer) up_->splice = down_->splice = true;
  arm_idle();
  for (auto [d, initial] : {std::pair{up_.get(), &to_b}, std::pair{down_.get(), &to_a}}) {
    if (initial->empty()) {
      pump(*d);
    } else {
      d->pending = std::move(*initial);
      write(*d, 0);
    }
  }
}

void StreamRelay::pump(Direction& d) {
  if (finished_) return;
  // Wait for bytes without holding a buffer: an idle connection costs no buffer memory.
  d.from.async_wait(Stream::wait_read, [self = shared_from_this(), &d](const boost::system::error_code& ec) {
    if (self->finished_) return;
    if (ec) return self->finish(RelayEnd::Aborted);
    self->read_now(d);
  });
}

void StreamRelay::read_now(Direction& d) {
  if (finished_) return;
  if (d.splice) return splice_now(d);
  copy_now(d);
}

void StreamRelay::copy_now(Direction& d) {
  // Not value-initialised: zeroing a buffer per read would cost as much as the copy.
  if (!d.buffer) d.buffer.reset(new char[options_.buffer_bytes]);
  boost::system::error_code ec;
  const auto n = d.from.read_some(boost::asio::buffer(d.buffer.get(), options_.buffer_bytes), ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    d.buffer.reset();
    return pump(d);
  }
  if (ec == boost::asio::error::eof) {
    d.buffer.reset();
    return on_eof(d);
  }
  if (ec) return finish(RelayEnd::Reset);
  last_activity_ = time_.now();
  if (progress_) progress_(d.upstream, n);
  (d.upstream ? result_.bytes_upstream : result_.bytes_downstream) += n;
  if (options_.observer) {
    std::string out;
    options_.observer->on_bytes(d.upstream, {d.buffer.get(), n}, out);
    if (out.empty()) {
      // Held back (an incomplete HTTP head): read on, from the io loop, not recursively.
      return boost::asio::post(d.from.get_executor(), [self = shared_from_this(), &d] { self->read_now(d); });
    }
    d.pending = std::move(out);
    return write(d, 0);
  }
  write(d, n);
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

// The kernel cannot splice this socket pair (EINVAL): copy from now on, first handing on what
// is already in the pipe through the buffer path.
bool StreamRelay::fall_back_to_copy(Direction& d) {
  options_.pipes->count_fallback(PipePool::Fallback::Unsupported);
  d.splice = false;
  if (d.in_pipe == 0) {
    release_pipe(d);
    copy_now(d);
    return true;
  }
  d.buffer.reset(new char[std::max(d.in_pipe, options_.buffer_bytes)]);
  const auto n = ::read(d.pipe.read_fd(), d.buffer.get(), d.in_pipe);
  if (n != static_cast<ssize_t>(d.in_pipe)) return false;
  d.in_pipe = 0;
  release_pipe(d);
  write(d, static_cast<std::size_t>(n));
  return true;
}

void StreamRelay::splice_now(Direction& d) {
  const int from = d.from.native_handle();
  const int to = d.to.native_handle();
  constexpr unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  // Bounded rounds, then yield to the io loop, so one busy stream cannot starve the others.
  for (int round = 0; round < 16; ++round) {
    if (d.in_pipe == 0) {
      if (!d.pipe) {
        d.pipe = options_.pipes->acquire();
        if (!d.pipe) return copy_now(d);  // pool exhausted: this round copies (counted)
      }
      const auto n = ::splice(from, nullptr, d.pipe.write_fd(), nullptr, options_.pipes->capacity(), flags);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        release_pipe(d);
        return pump(d);
      }
      if (n < 0 && (errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
        if (!fall_back_to_copy(d)) finish(RelayEnd::Aborted);
        return;
      }
      if (n < 0) return finish(RelayEnd::Reset);
      if (n == 0) {
        release_pipe(d);
        return on_eof(d);
      }
      d.in_pipe = static_cast<std::size_t>(n);
      last_activity_ = time_.now();
      if (progress_) progress_(d.upstream, d.in_pipe);
      (d.upstream ? result_.bytes_upstream : result_.bytes_downstream) += d.in_pipe;
    }
    while (d.in_pipe > 0) {
      const auto m = ::splice(d.pipe.read_fd(), nullptr, to, nullptr, d.in_pipe, flags);
      if (m > 0) {
        d.in_pipe -= static_cast<std::size_t>(m);
        continue;
      }
      if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // The reader is slow: wait for room, holding only the pipe (and its bytes).
        d.to.async_wait(Stream::wait_write, [self = shared_from_this(), &d](const boost::system::error_code& ec) {
          if (self->finished_) return;
          if (ec) return self->finish(RelayEnd::Reset);
          self->splice_now(d);
        });
        return;
      }
      if (m < 0 && (errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
        if (!fall_back_to_copy(d)) finish(RelayEnd::Aborted);
        return;
      }
      // EPIPE / ECONNRESET: the reader went away; tell the writer by resetting it too.
      return finish(RelayEnd::Reset);
    }
    last_activity_ = time_.now();
  }
  boost::asio::post(d.from.get_executor(), [self = shared_from_this(), &d] {
    if (!self->finished_) self->splice_now(d);
  });
}

void StreamRelay::write(Direction& d, std::size_t n) {
  const bool initial = !d.pending.empty();
  auto buffer = initial ? boost::asio::buffer(d.pending) : boost::asio::buffer(d.buffer.get(), n);
  boost::asio::async_write(d.to, buffer, [self = shared_from_this(), &d, initial](const boost::system::error_code& ec,
                                                                                  std::size_t) {
    if (self->finished_) return;
    // The reader went away: tell the writer by resetting it too.
    if (ec) return self->finish(RelayEnd::Reset);
    self->last_activity_ = self->time_.now();
    if (initial) {
      d.pending.clear();
      d.pending.shrink_to_fit();
    }
    // While bytes flow, read again at once with the same buffer; it is released only when the
    // source has nothing more (read_now gets would_block), so a busy stream costs one read and
    // one write per chunk, an idle one no buffer.
    self->read_now(d);
  });
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
    d->buffer.reset();
    if (d->pipe) release_pipe(*d);
  }
  result_.end = end;
  auto done = std::move(done_);
  if (done) done(result_);
  if (options_.observer) options_.observer->on_end(result_);
}

}  // namespace porthole::relay

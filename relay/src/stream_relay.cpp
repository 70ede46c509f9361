#include "porthole/relay/stream_relay.hpp"

#include <poll.h>
#include <sys/socket.h>

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
    // A vsock (or its Unix-socket emulation) carries no RST: a peer that aborts just closes.
    // A peer that closed both ways while we could still write to it has aborted; a peer that
    // half-closed (shutdown SHUT_WR) keeps its socket open. poll() tells them apart (POLLHUP).
    // On TCP a FIN never sets POLLHUP while our side is open, and a RST arrives as an error.
    if (!other(d).eof && peer_hung_up(d.from)) return finish(RelayEnd::Reset);
    return half_close(d);
  }
  if (ec) return finish(RelayEnd::Reset);
  last_activity_ = time_.now();
  if (progress_) progress_(d.upstream, n);
  (d.upstream ? result_.bytes_upstream : result_.bytes_downstream) += n;
  write(d, n);
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
  up_->buffer.reset();
  down_->buffer.reset();
  result_.end = end;
  auto done = std::move(done_);
  if (done) done(result_);
}

}  // namespace porthole::relay

#include "porthole/relay/header_reader.hpp"

#include <array>

namespace porthole::relay {
namespace {

struct Read {
  Stream& stream;
  std::unique_ptr<Timer> timer;
  std::size_t max_bytes;
  HeaderParser parse;
  std::function<void(HeaderResult)> done;
  HeaderResult result;
  std::array<char, 4096> buffer{};
  bool finished = false;

  void finish(HeaderStatus status) {
    if (finished) return;
    finished = true;
    timer->cancel();
    result.status = status;
    auto d = std::move(done);
    d(std::move(result));
  }
};

void read_more(const std::shared_ptr<Read>& r) {
  const auto room = std::min(r->buffer.size(), r->max_bytes + 1 - r->result.bytes.size());
  r->stream.async_read_some(boost::asio::buffer(r->buffer.data(), room),
                            [r](const boost::system::error_code& ec, std::size_t n) {
                              if (r->finished) return;
                              if (ec) {
                                r->result.error = ec.message();
                                return r->finish(ec == boost::asio::error::operation_aborted ? HeaderStatus::Timeout
                                                                                             : HeaderStatus::Closed);
                              }
                              r->result.bytes.append(r->buffer.data(), n);
                              const long verdict = r->parse(r->result.bytes, r->result.error);
                              if (verdict > 0) {
                                r->result.consumed = static_cast<std::size_t>(verdict);
                                return r->finish(HeaderStatus::Ok);
                              }
                              if (verdict < 0) return r->finish(HeaderStatus::Invalid);
                              if (r->result.bytes.size() > r->max_bytes) return r->finish(HeaderStatus::TooLong);
                              read_more(r);
                            });
}

}  // namespace

void read_header(Stream& stream, TimeSource& time, Duration timeout, std::size_t max_bytes, HeaderParser parse,
                 std::function<void(HeaderResult)> done) {
  auto r = std::make_shared<Read>(Read{stream, time.make_timer(), max_bytes, std::move(parse), std::move(done), {}});
  std::weak_ptr<Read> weak = r;
  r->timer->arm(timeout, [weak] {
    if (auto r = weak.lock()) {
      boost::system::error_code ignored;
      r->stream.cancel(ignored);  // the pending read completes with operation_aborted
      r->finish(HeaderStatus::Timeout);
    }
  });
  read_more(r);
}

}  // namespace porthole::relay

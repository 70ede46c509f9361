// An HTTP/1.1 response parser that keeps the status and counts body bytes without storing
// them: the load generator never needs the payload, and a large response must not cost memory.
#pragma once

#include <cstdint>

#include <boost/beast/http/basic_parser.hpp>

namespace porthole::loadtest {

class CountingParser final : public boost::beast::http::basic_parser<false> {
 public:
  unsigned status = 0;
  std::uint64_t body_bytes = 0;

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::system::error_code;
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { status = static_cast<unsigned>(code); }
  void on_field_impl(boost::beast::http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override {
    body_bytes += body.size();
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    body_bytes += body.size();
    return body.size();
  }
  void on_finish_impl(error_code&) override {}
};

}  // namespace porthole::loadtest

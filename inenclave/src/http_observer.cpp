#include "porthole/agent/http_observer.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace porthole::agent {

namespace http = boost::beast::http;

// ---- route templates ---------------------------------------------------------------------------

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const auto j = path.find('/', i);
    out.push_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return out;
}

bool template_matches(std::string_view tmpl, std::string_view path) {
  const auto t = segments(tmpl);
  const auto p = segments(path);
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == "*" && i + 1 == t.size()) return true;
    if (i >= p.size()) return false;
    const bool placeholder = t[i].size() >= 2 && t[i].front() == '{' && t[i].back() == '}';
    if (!placeholder && t[i] != p[i]) return false;
  }
  return t.size() == p.size();
}

const std::string kNoRoute;

}  // namespace

RouteTemplates::RouteTemplates(std::vector<std::string> templates) : templates_(std::move(templates)) {}

const std::string& RouteTemplates::match(std::string_view path) const {
  for (const auto& t : templates_) {
    if (template_matches(t, path)) return t;
  }
  return kNoRoute;
}

std::string RouteTemplates::validate(std::string_view t) {
  if (t.empty() || t.front() != '/') return "must start with '/'";
  if (t.find_first_of("?# \t") != std::string_view::npos) return "must be a path: no query, fragment or spaces";
  const auto segs = segments(t);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (segs[i] == "*" && i + 1 != segs.size()) return "'*' may only be the last segment";
    if (segs[i].find('*') != std::string_view::npos && segs[i] != "*") return "'*' must be a whole segment";
  }
  return "";
}

// ---- parsers -----------------------------------------------------------------------------------

// Beast's parser with callbacks that keep only what a span needs; bodies are consumed unseen.
template <bool isRequest>
class HeadParser : public http::basic_parser<isRequest> {
 public:
  explicit HeadParser(std::size_t max_head) {
    this->header_limit(static_cast<std::uint32_t>(max_head));
    this->body_limit(boost::none);  // bodies pass through; only heads are bounded
  }

 protected:
  void on_request_impl(http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       boost::system::error_code&) override {}
  void on_response_impl(int, boost::beast::string_view, int, boost::system::error_code&) override {}
  void on_field_impl(http::field, boost::beast::string_view, boost::beast::string_view,
                     boost::system::error_code&) override {}
  void on_header_impl(boost::system::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, boost::system::error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, boost::system::error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, boost::system::error_code&) override {
    return body.size();
  }
  void on_finish_impl(boost::system::error_code&) override {}
};

class HttpObserver::RequestParser final : public HeadParser<true> {
 public:
  using HeadParser::HeadParser;
  http::verb method = http::verb::unknown;
  std::string method_str;
  std::string path;  // the target without query
  int version = 11;
  int traceparents = 0;
  std::string traceparent;

 private:
  void on_request_impl(http::verb m, boost::beast::string_view ms, boost::beast::string_view target, int v,
                       boost::system::error_code&) override {
    method = m;
    method_str.assign(ms.data(), ms.size());
    std::string_view t(target.data(), target.size());
    path = std::string(t.substr(0, t.find_first_of("?#")));
    version = v;
  }
  void on_field_impl(http::field, boost::beast::string_view name, boost::beast::string_view value,
                     boost::system::error_code&) override {
    if (boost::beast::iequals(name, "traceparent")) {
      ++traceparents;
      traceparent.assign(value.data(), value.size());
    }
  }
};

class HttpObserver::ResponseParser final : public HeadParser<false> {
 public:
  ResponseParser(std::size_t max_head, bool head_request) : HeadParser(max_head) {
    skip(head_request);  // a response to HEAD has no body whatever its headers say
  }
  int status = 0;

 private:
  void on_response_impl(int code, boost::beast::string_view, int, boost::system::error_code&) override {
    status = code;
  }
};

struct HttpObserver::Pending {
  telemetry::ScopedSpan span;
  std::string method;
  bool head = false;
  bool connect = false;
  MonoTime start;
};

// ---- the observer ------------------------------------------------------------------------------

HttpObserver::HttpObserver(telemetry::Tracer& tracer, const RouteTemplates& routes, HttpMetrics::Route& metrics,
                           TimeSource& time, HttpObserverOptions options)
    : tracer_(tracer), routes_(routes), metrics_(metrics), time_(time), options_(options) {}

HttpObserver::~HttpObserver() = default;

void HttpObserver::on_bytes(bool upstream, std::string_view data, std::string& out) {
  if (passthrough_) {
    // Whatever a direction still held when observation stopped goes first.
    auto& held = upstream ? request_in_ : response_in_;
    if (!held.empty()) {
      out += held;
      held.clear();
    }
    out.append(data);
    return;
  }
  if (upstream) {
    on_request_bytes(data, out);
  } else {
    on_response_bytes(data, out);
  }
}

void HttpObserver::on_eof(bool upstream, std::string& out) {
  auto& held = upstream ? request_in_ : response_in_;
  out += held;
  held.clear();
}

void HttpObserver::on_request_bytes(std::string_view data, std::string& out) {
  request_in_.append(data);
  std::size_t pos = 0;
  while (pos < request_in_.size() && !passthrough_) {
    if (!request_) {
      request_ = std::make_unique<RequestParser>(options_.max_head_bytes);
      request_head_sent_ = false;
    }
    boost::system::error_code ec;
    const auto used = request_->put(boost::asio::buffer(request_in_.data() + pos, request_in_.size() - pos), ec);
    if (ec && ec != http::error::need_more) {
      give_up(ec == http::error::header_limit ? HttpUnobserved::HeadTooLarge : HttpUnobserved::ParseError);
      break;
    }
    if (request_->is_header_done() && !request_head_sent_) {
      // Not eager: this put() consumed exactly the head.
      request_head_sent_ = true;
      if (pending_.size() >= options_.max_pipelined) {
        out.append(request_in_, pos, used);
        pos += used;
        give_up(HttpUnobserved::PipelineLimit);
        break;
      }
      out += begin_request(std::string_view(request_in_).substr(pos, used));  // replaces the head's bytes
    } else {
      out.append(request_in_, pos, used);
    }
    pos += used;
    if (request_->is_done()) {
      request_done();
    } else if (used == 0) {
      break;  // needs more bytes
    }
  }
  if (passthrough_) {
    out.append(request_in_, pos, std::string::npos);
    request_in_.clear();
    return;
  }
  request_in_.erase(0, pos);
}

std::string HttpObserver::begin_request(std::string_view all) {
  auto& req = *request_;
  telemetry::SpanContext parent;
  if (req.traceparents == 1) {
    std::string error;
    if (!telemetry::parse_traceparent(req.traceparent, parent, error)) parent = {};
  }
  const auto& route = routes_.match(req.path);
  const auto method = std::string(method_label(req.method_str));
  auto span = tracer_.start_span(route.empty() ? method : method + " " + route, telemetry::SpanKind::Server, parent);
  span.set_attribute("http.request.method", telemetry::AnyValue(method));
  span.set_attribute("url.scheme", telemetry::AnyValue(std::string("http")));
  span.set_attribute("url.path", telemetry::AnyValue(req.path));
  if (!route.empty()) span.set_attribute("http.route", telemetry::AnyValue(route));
  span.set_attribute("network.protocol.version", telemetry::AnyValue(std::string(req.version == 10 ? "1.0" : "1.1")));

  // The head as received, minus any traceparent line, plus ours before the blank line.
  std::string head;
  head.reserve(all.size() + 72);
  std::size_t line_start = 0;
  bool dropping = false;
  for (;;) {
    const auto eol = all.find('\n', line_start);
    if (eol == std::string_view::npos) {  // cannot happen: the parser saw the whole head
      head.append(all.substr(line_start));
      break;
    }
    const auto line = all.substr(line_start, eol + 1 - line_start);
    const bool blank = line == "\r\n" || line == "\n";
    if (blank) {
      const auto tp = span.traceparent();
      if (!tp.empty()) head += "traceparent: " + tp + "\r\n";
      head += line;
      break;
    }
    const bool continuation = line_start > 0 && (line.front() == ' ' || line.front() == '\t');
    if (!continuation) {
      const auto colon = line.find(':');
      dropping = line_start > 0 && colon != std::string_view::npos &&
                 boost::beast::iequals(line.substr(0, colon), "traceparent");
    }
    if (!dropping) head += line;
    line_start = eol + 1;
  }
  Pending p{std::move(span), req.method_str, req.method == http::verb::head, req.method == http::verb::connect,
            time_.now()};
  pending_.push_back(std::move(p));
  return head;
}

void HttpObserver::request_done() {
  request_.reset();
  request_head_sent_ = false;
}

void HttpObserver::on_response_bytes(std::string_view data, std::string& out) {
  response_in_.append(data);
  std::size_t pos = 0;
  while (pos < response_in_.size() && !passthrough_) {
    if (!response_) {
      if (pending_.empty()) {
        give_up(HttpUnobserved::UnmatchedResponse);
        break;
      }
      response_ = std::make_unique<ResponseParser>(options_.max_head_bytes, pending_.front().head);
      response_head_seen_ = false;
    }
    boost::system::error_code ec;
    const auto used = response_->put(boost::asio::buffer(response_in_.data() + pos, response_in_.size() - pos), ec);
    if (ec && ec != http::error::need_more) {
      give_up(ec == http::error::header_limit ? HttpUnobserved::HeadTooLarge : HttpUnobserved::ParseError);
      break;
    }
    out.append(response_in_, pos, used);
    pos += used;
    if (response_->is_header_done() && !response_head_seen_) {
      response_head_seen_ = true;
      response_head_done();
      if (passthrough_) break;
    }
    if (response_->is_done()) {
      response_done();
    } else if (used == 0) {
      break;
    }
  }
  if (passthrough_) {
    out.append(response_in_, pos, std::string::npos);
    response_in_.clear();
    return;
  }
  response_in_.erase(0, pos);
}

void HttpObserver::response_head_done() {
  const int status = response_->status;
  const bool tunnel = status == 101 || (pending_.front().connect && status >= 200 && status < 300);
  if (tunnel) {
    // What follows is not HTTP: the request's span ends here, the bytes flow as they are.
    finish_pending(status, "");
    give_up(HttpUnobserved::Upgrade);
  }
}

void HttpObserver::response_done() {
  const int status = response_->status;
  response_.reset();
  // 1xx (100 Continue, 103 Early Hints) are interim: the final response is still to come.
  if (status >= 100 && status < 200) return;
  finish_pending(status, "");
}

void HttpObserver::finish_pending(int status, std::string_view error_type) {
  if (pending_.empty()) return;
  auto p = std::move(pending_.front());
  pending_.pop_front();
  if (status > 0) p.span.set_attribute("http.response.status_code", telemetry::AnyValue(std::int64_t{status}));
  if (status >= 500) {
    p.span.set_attribute("error.type", telemetry::AnyValue(std::to_string(status)));
    p.span.set_status(telemetry::StatusCode::Error);
  } else if (!error_type.empty()) {
    p.span.set_attribute("error.type", telemetry::AnyValue(std::string(error_type)));
    p.span.set_status(telemetry::StatusCode::Error);
  }
  p.span.end();
  metrics_.request_done(p.method, status, std::chrono::duration<double>(time_.now() - p.start).count());
}

void HttpObserver::give_up(HttpUnobserved reason) {
  if (passthrough_) return;
  passthrough_ = true;
  metrics_.unobserved(reason);
  // Requests already seen keep their spans; they end with the connection (status unknown).
}

void HttpObserver::on_end(const relay::RelayResult& result) {
  // A response delimited by the end of the connection (no length, not chunked) is complete now.
  if (!passthrough_ && response_ && response_head_seen_) {
    boost::system::error_code ec;
    response_->put_eof(ec);
    if (!ec && response_->is_done()) response_done();
  }
  const auto why = result.end == relay::RelayEnd::Closed ? std::string_view("connection_closed")
                                                         : std::string_view(relay::to_string(result.end));
  while (!pending_.empty()) finish_pending(0, why);
}

}  // namespace porthole::agent

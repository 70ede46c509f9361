// The demo workload's endpoints: /health, /echo, /payload, /egress, /encrypt and /metrics, with
// demo_requests_total{path,code} and demo_request_duration_seconds{path} for every request and
// demo_encrypted_documents_total{cipher,curve} for /encrypt.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "field_cipher.hpp"
#include "http_types.hpp"

namespace porthole::loadtest {

struct ProxyAddress {
  std::string host;
  std::string port;
};

// "HOST:PORT", "http://HOST:PORT" or "http://HOST:PORT/" -> the address; nullopt if malformed.
std::optional<ProxyAddress> parse_proxy(std::string text);

class WorkloadRoutes : public RequestHandler {
 public:
  // `scheme`: what POST /encrypt uses when the request names no cipher or curve.
  explicit WorkloadRoutes(std::optional<ProxyAddress> proxy, FieldScheme scheme = {});

  void handle(const Request& request, const boost::asio::any_io_executor& executor, Respond respond) override;
  void observe(const std::string& route, unsigned status, double seconds) override;
  std::string route_of(const Request& request) const override;

 private:
  void payload(const Request& request, const boost::asio::any_io_executor& executor, Respond respond);
  void egress(const Request& request, const boost::asio::any_io_executor& executor, Respond respond);
  void encrypt(const Request& request, Respond respond);

  std::optional<ProxyAddress> proxy_;
  FieldCipher cipher_;  // keys generated at start, never logged
  FieldScheme default_scheme_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Counter>& encrypted_;
};

}  // namespace porthole::loadtest

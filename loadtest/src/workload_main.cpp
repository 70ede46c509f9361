// porthole-demo-workload: the HTTP service that stands in for the enclave's workload in demos,
// integration tests and benchmarks. See loadtest/README.md.
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include "http_server.hpp"
#include "porthole/common/file_util.hpp"
#include "porthole/common/logging.hpp"
#include "workload_routes.hpp"

namespace {

using porthole::loadtest::ProxyAddress;

constexpr const char* kUsage =
    "usage: porthole-demo-workload [--listen HOST:PORT] [--address-file FILE] [--proxy HOST:PORT] [--threads N]\n"
    "                              [--cipher aes-256-gcm|chacha20-poly1305] [--curve p-256|p-384|x25519|none]\n"
    "\n"
    "A small HTTP/1.1 service for the simulated enclave:\n"
    "  GET /health                         200 \"ok\"\n"
    "  GET|POST /echo                      the request body back (content-type copied), x-echo-method\n"
    "  GET /payload?size=N&delay_ms=M      N bytes (<= 64 MiB) after M ms (<= 60000)\n"
    "  GET /egress?target=HOST:PORT&path=/x   GET through the HTTP CONNECT proxy -> JSON\n"
    "  POST /encrypt[?cipher=C&curve=K]    {\"fields\": {...}} back with every field sealed (ECIES-style:\n"
    "                                      ephemeral ECDH on curve K + HKDF-SHA256, then AEAD C per field)\n"
    "  GET /metrics                        Prometheus text\n"
    "\n"
    "  --listen HOST:PORT    where to listen (default 127.0.0.1:8080; port 0 picks a free port)\n"
    "  --address-file FILE   write the bound HOST:PORT here (atomically) once listening\n"
    "  --proxy HOST:PORT     the egress CONNECT proxy (default: $HTTPS_PROXY or $https_proxy)\n"
    "  --threads N           io threads (default 1)\n"
    "  --cipher NAME         POST /encrypt's AEAD unless ?cipher= says otherwise (default aes-256-gcm)\n"
    "  --curve NAME          POST /encrypt's key agreement unless ?curve= says otherwise (default p-256;\n"
    "                        none: a static AEAD key, no key agreement)\n";

struct Options {
  std::string listen = "127.0.0.1:8080";
  std::string address_file;
  std::optional<ProxyAddress> proxy;
  unsigned threads = 1;
  porthole::loadtest::FieldScheme scheme;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "porthole-demo-workload: " << message << "\n" << kUsage;
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  std::string proxy_text;
  for (const char* env : {"HTTPS_PROXY", "https_proxy"}) {
    if (const char* v = std::getenv(env); v && *v && proxy_text.empty()) proxy_text = v;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("unknown option or missing value: " + arg);
    const std::string value = argv[++i];
    if (arg == "--listen") {
      o.listen = value;
    } else if (arg == "--address-file") {
      o.address_file = value;
    } else if (arg == "--proxy") {
      proxy_text = value;
    } else if (arg == "--cipher") {
      const auto parsed = porthole::loadtest::parse_field_algorithm(value);
      if (!parsed) usage_error("--cipher: '" + value + "' must be aes-256-gcm or chacha20-poly1305");
      o.scheme.cipher = *parsed;
    } else if (arg == "--curve") {
      const auto parsed = porthole::loadtest::parse_field_curve(value);
      if (!parsed) usage_error("--curve: '" + value + "' must be p-256, p-384, x25519 or none");
      o.scheme.curve = *parsed;
    } else if (arg == "--threads") {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), o.threads);
      if (ec != std::errc() || p != value.data() + value.size() || o.threads < 1 || o.threads > 256) {
        usage_error("--threads: '" + value + "' must be a number 1..256");
      }
    } else {
      usage_error("unknown option: " + arg);
    }
  }
  if (!proxy_text.empty()) {
    o.proxy = porthole::loadtest::parse_proxy(proxy_text);
    if (!o.proxy) usage_error("proxy: '" + proxy_text + "' must be HOST:PORT or http://HOST:PORT");
  }
  return o;
}

boost::asio::ip::tcp::endpoint listen_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) usage_error("--listen: '" + text + "' must be HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const auto ps = text.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port > 65535) {
    usage_error("--listen: '" + text + "': the port must be a number 0..65535");
  }
  boost::system::error_code aec;
  auto address = boost::asio::ip::make_address(host, aec);
  if (aec) usage_error("--listen: '" + text + "': the host must be a numeric IP address or localhost");
  return {address, static_cast<unsigned short>(port)};
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  porthole::setup_logging(porthole::LoggingConfig{}, "demo-workload");
  auto log = porthole::logger("workload");
  try {
    boost::asio::io_context io(static_cast<int>(options.threads));
    // Before anything is announced, so a signal right after the address file appears is not lost.
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    porthole::loadtest::WorkloadRoutes routes(options.proxy, options.scheme);
    porthole::loadtest::HttpServer server(io, listen_endpoint(options.listen), porthole::loadtest::ServerLimits{},
                                          routes);
    const auto bound = server.local_endpoint();
    const std::string bound_text = bound.address().to_string() + ":" + std::to_string(bound.port());
    server.start();
    if (!options.address_file.empty()) porthole::write_file_atomically(options.address_file, bound_text + "\n");
    log->info("listening on http://{} with {} thread(s); egress proxy {}", bound_text, options.threads,
              options.proxy ? options.proxy->host + ":" + options.proxy->port : std::string("none"));

    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      log->info("signal {}: exiting", signo);
      server.stop();
      io.stop();
    });
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < options.threads; ++i) threads.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : threads) t.join();
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return 1;
  }
  return 0;
}

// The porthole-loadtest command line (see kLoadtestUsage and docs/loadtest.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "slo_search.hpp"

namespace porthole::loadtest {

extern const char* const kLoadtestUsage;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CliOptions {
  enum class Command { Run, Compare, Help, Version };
  Command command = Command::Run;
  // run
  std::string url;
  double rate = 100;
  unsigned connections = 10;
  unsigned threads = 1;
  std::optional<std::chrono::nanoseconds> duration = std::chrono::seconds(10);
  std::optional<std::uint64_t> requests;
  std::chrono::nanoseconds warmup = std::chrono::seconds(1);
  double jitter = 0;
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds late_threshold = std::chrono::milliseconds(1);
  std::uint64_t seed = 1;
  std::string scenario = "get";
  std::size_t body_size = 64;
  unsigned fields = 16;
  std::size_t field_size = 32;
  std::string cipher;  // field-encryption: ?cipher= (empty: the workload's default)
  std::string curve;   // field-encryption: ?curve= (empty: the workload's default)
  bool traceparent = true;
  bool insecure = false;
  std::string ca_file;
  std::string json_path, html_path;
  bool quiet = false;
  std::string metrics_listen;
  std::string metrics_address_file;
  std::vector<std::string> scrape;
  std::chrono::nanoseconds scrape_wait = std::chrono::seconds(20);
  std::string dump_requests;       // --dump-requests FILE
  std::size_t dump_limit = 100000;
  std::optional<SloSpec> slo;  // --slo given: SLO search instead of one run
  // compare
  std::string compare_a, compare_b;
  bool compare_json = false;
};

// Throws UsageError with a message naming the option.
CliOptions parse_cli(const std::vector<std::string>& args);

}  // namespace porthole::loadtest

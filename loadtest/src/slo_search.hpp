// SLO search: run at increasing rates until the chosen latency percentile exceeds the SLO, the
// error rate exceeds its budget, or the successful throughput falls short of the target (the
// server, or the generator, cannot keep up); the maximum sustainable rate is the last rate that
// passed. Each step is a full run (warm-up included), with its own breakdown when scraping.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "load_runner.hpp"
#include "report.hpp"

namespace porthole::loadtest {

struct SloSpec {
  double percentile = 99;
  std::chrono::nanoseconds threshold{std::chrono::milliseconds(100)};
  double error_budget = 0.001;    // fraction of measured requests
  double min_achieved = 0.99;     // successful throughput / target below this fails the step
  double start_rate = 100;
  double step_rate = 100;         // added each step
  double max_rate = 1e6;
};

struct SloStep {
  double rate = 0;
  double send_rate = 0;
  double throughput = 0;
  std::uint64_t percentile_ns = 0;
  double error_rate = 0;
  std::uint64_t requests = 0;
  bool passed = false;
  std::string reason;  // why it failed; empty when it passed
  Breakdown breakdown;  // --scrape
};

struct SloResult {
  SloSpec spec;
  std::vector<SloStep> steps;
  double max_sustainable_rate = 0;  // 0 when even the first step failed
  bool interrupted = false;
};

SloStep evaluate_step(const RunResult& run, double rate, const SloSpec& spec);

// Runs steps with `run_at(rate, breakdown)` until a step fails, max_rate is passed, or `stop` is
// set; `run_at` fills the step's breakdown when it scrapes.
SloResult search_slo(const SloSpec& spec, const std::function<RunResult(double, Breakdown&)>& run_at,
                     const std::atomic<bool>& stop);

boost::json::value slo_to_json(const SloResult& result, const std::string& url, const std::string& scenario);
std::string format_slo(const SloResult& result);
std::string slo_to_html(const SloResult& result, const std::string& url);

}  // namespace porthole::loadtest

// `porthole-loadtest compare A.json B.json`: the same metrics of two reports side by side, with
// the change from A to B and whether it is better or worse.
#pragma once

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "report.hpp"

namespace porthole::loadtest {

struct ComparisonRow {
  std::string metric;  // "latency p99"
  std::string unit;    // "s", "req/s", "ratio", "count"
  double a = 0;
  double b = 0;
  double change = 0;   // (b - a) / a; 0 when both are 0; inf when only a is 0
  bool lower_is_better = true;
  std::string verdict;  // "better", "worse", "same" (|change| < 1 %)
};

std::vector<ComparisonRow> compare_reports(const Report& a, const Report& b);
std::string format_comparison(const std::string& name_a, const std::string& name_b,
                              const std::vector<ComparisonRow>& rows);
boost::json::value comparison_to_json(const std::string& name_a, const std::string& name_b,
                                      const std::vector<ComparisonRow>& rows);

}  // namespace porthole::loadtest

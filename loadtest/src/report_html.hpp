// The self-contained HTML report: summary tables, the latency percentile spectrum and
// throughput/latency over time as inline SVG. No scripts, fonts or links to fetch.
#pragma once

#include <string>

#include "report.hpp"

namespace porthole::loadtest {

std::string report_to_html(const Report& report);
// The "where the time went" section (also in the SLO search's report); empty without a breakdown.
std::string breakdown_html(const Breakdown& b);

}  // namespace porthole::loadtest
